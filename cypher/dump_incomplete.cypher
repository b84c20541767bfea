// Mark a loaded dump incomplete before it is read again (ingest --replace): until the new load
// commits, the dump does not count as loaded, and a re-run completes it.
MATCH (d:Dump {case: $case, sha256: $sha256})
SET d.complete = false
RETURN d.sha256 AS sha256
