// Drop what one dump delivered before it is read again (ingest --replace): its CONTAINS links,
// and the sessions no other dump of the case also delivered (operators' re-sends overlap).
// A session another dump also delivered stays; when it holds this dump's copy (dump_sha256: the
// first dump to deliver it owns it, graph/writes.py OWNER) its application and cell links go too,
// as the read that follows writes that copy again, perhaps with another application or cell.
MATCH (:Dump {case: $case, sha256: $sha256})-[c:CONTAINS]->(s:Session)
CALL (c, s) {
  DELETE c
  WITH s
  OPTIONAL MATCH (s)-[r:OF_APP|AT_CELL]->()
  WHERE s.dump_sha256 = $sha256
  DELETE r
  WITH DISTINCT s
  WHERE NOT EXISTS { (s)<-[:CONTAINS]-(:Dump) }
  DETACH DELETE s
} IN TRANSACTIONS OF 10000 ROWS
