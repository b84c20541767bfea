// After a dump was read again (ingest --replace): count again, for one dump after it in the ingest
// order, how many of its sessions an earlier complete dump delivered too (its keys may have come
// back or gone with another --tz), and store that count on it (graph/store.py recount_after_reread).
MATCH (d:Dump {case: $case, sha256: $sha256})
WITH d, coalesce(d.first_ingested_at, d.ingested_at) AS at
OPTIONAL MATCH (d)-[:CONTAINS]->(x:Session)<-[:CONTAINS]-(o:Dump {case: $case})
WHERE o.sha256 <> d.sha256 AND o.complete = true
  AND (coalesce(o.first_ingested_at, o.ingested_at) < at
       OR (coalesce(o.first_ingested_at, o.ingested_at) = at AND o.file_name < d.file_name))
WITH d, count(DISTINCT x) AS again
SET d.duplicates_of_other_dumps = again
RETURN again
