// After a dump was read again (ingest --replace): of the sessions and calls it held the kept copy
// of while other dumps deliver them too (dump_shared_copies.cypher), those its new read no longer
// delivers. The copy to keep is now the first other dump's in ingest order (as the workspace keeps
// it), which only its file holds: the node passes to that dump, which becomes incomplete, so the
// next ingest of it writes its copy (its properties, cell and application links; dump_forget.cypher
// dropped the former copy's links). Returns those dumps' files, for the ingest to name them.
UNWIND $sessions AS k
MATCH (s:Session {case: $case, session_key: k})
WHERE s.dump_sha256 = $sha256 AND NOT EXISTS { (:Dump {case: $case, sha256: $sha256})-[:CONTAINS]->(s) }
MATCH (d:Dump)-[:CONTAINS]->(s)
WITH s, d ORDER BY coalesce(d.first_ingested_at, d.ingested_at), d.file_name
WITH s, collect(d)[0] AS heir
SET s.dump_sha256 = heir.sha256, heir.complete = false
RETURN DISTINCT heir.file_name AS file_name
UNION
UNWIND $calls AS k
MATCH (c:Call {case: $case, event_key: k})
WHERE c.dump_sha256 = $sha256 AND NOT EXISTS { (:Dump {case: $case, sha256: $sha256})-[:RECORDED]->(c) }
MATCH (d:Dump)-[:RECORDED]->(c)
WITH c, d ORDER BY coalesce(d.first_ingested_at, d.ingested_at), d.file_name
WITH c, collect(d)[0] AS heir
SET c.dump_sha256 = heir.sha256, heir.complete = false
RETURN DISTINCT heir.file_name AS file_name
