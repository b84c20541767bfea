// Before a dump is read again (ingest --replace): the sessions and calls it holds the kept copy of
// (dump_sha256: graph/writes.py OWNER) that other dumps deliver too. Its new read may no longer
// deliver them (read with another --tz or date order: other keys); dump_lost_copies.cypher then
// hands them on.
MATCH (:Dump {case: $case, sha256: $sha256})-[:CONTAINS]->(s:Session)
WHERE s.dump_sha256 = $sha256 AND count { (s)<-[:CONTAINS]-(:Dump) } > 1
RETURN 'Session' AS label, s.session_key AS key
UNION ALL
MATCH (:Dump {case: $case, sha256: $sha256})-[:RECORDED]->(c:Call)
WHERE c.dump_sha256 = $sha256 AND count { (c)<-[:RECORDED]-(:Dump) } > 1
RETURN 'Call' AS label, c.event_key AS key
