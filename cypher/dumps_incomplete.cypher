// The case's dumps not completely loaded: a load that died half-way, one running now, or a dump
// handed sessions by a dump read again (dump_lost_copies.cypher) until it is ingested again. Their
// reports are not among the loaded dumps (dumps_list.cypher), so `cdrnet dumps` names them apart.
MATCH (d:Dump {case: $case})
WHERE d.complete = false
RETURN d.sha256 AS sha256, coalesce(d.file_name, d.sha256) AS file_name
ORDER BY file_name
