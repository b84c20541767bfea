// The case's complete dumps after this one in the ingest order (first ingest, then file name), when
// this one was ingested before (ingest --replace: it keeps its place). The copies they hold of
// sessions and calls it delivers again pass back to it, as the workspace keeps the first dump's copy
// (graph/writes.py OWNER); none for a dump loaded for the first time.
MATCH (me:Dump {case: $case, sha256: $sha256})
WITH me, coalesce(me.first_ingested_at, me.ingested_at) AS at
WHERE at IS NOT NULL
MATCH (d:Dump {case: $case})
WHERE d.sha256 <> $sha256 AND d.complete = true
  AND (coalesce(d.first_ingested_at, d.ingested_at) > at
       OR (coalesce(d.first_ingested_at, d.ingested_at) = at AND d.file_name > me.file_name))
RETURN d.sha256 AS sha256
