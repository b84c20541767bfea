// Session keys of the same subscribers delivered by other complete dumps (resend overlap); with
// $before_at, of the dumps ingested before that one only (ingest order: first ingest, then name).
MATCH (d:Dump {case: $case})-[:CONTAINS]->(x:Session)
WHERE d.sha256 <> $sha256 AND d.complete = true AND x.msisdn IN $msisdns
  AND ($before_at IS NULL
       OR coalesce(d.first_ingested_at, d.ingested_at) < $before_at
       OR (coalesce(d.first_ingested_at, d.ingested_at) = $before_at AND d.file_name < $before_name))
RETURN DISTINCT x.session_key AS key
