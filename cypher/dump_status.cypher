// Is this dump already fully loaded, and when was it first ingested (its place in the ingest
// order, kept while it is read again: graph/store.py first_ingested)?
OPTIONAL MATCH (d:Dump {case: $case, sha256: $sha256})
RETURN d.complete AS complete, coalesce(d.first_ingested_at, d.ingested_at) AS first
