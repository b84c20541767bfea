// Drop what one dump delivered before it is read again (ingest --replace): its CONTAINS links,
// and the sessions no other dump of the case also delivered (operators' re-sends overlap).
MATCH (:Dump {case: $case, sha256: $sha256})-[c:CONTAINS]->(s:Session)
CALL (c, s) {
  DELETE c
  WITH s
  WHERE NOT EXISTS { (s)<-[:CONTAINS]-(:Dump) }
  DETACH DELETE s
} IN TRANSACTIONS OF 10000 ROWS
