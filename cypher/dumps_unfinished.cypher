// The case's dumps whose first load has not finished, other than the one about to load: a load
// that died half-way (or runs beside this one), of which the workspace would hold nothing. The
// sessions and calls they wrote pass to the dump that writes them next (graph/writes.py OWNER), as
// that dump commits first. A dump committed once (read again, or to be ingested again after
// dump_lost_copies.cypher) keeps its place in the ingest order, and so its copies.
MATCH (d:Dump {case: $case})
WHERE d.complete = false AND d.sha256 <> $sha256
  AND coalesce(d.first_ingested_at, d.ingested_at, d.loaded_at) IS NULL
RETURN d.sha256 AS sha256
