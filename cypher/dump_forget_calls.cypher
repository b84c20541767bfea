// Drop the call events one dump delivered before it is read again (ingest --replace): its RECORDED
// links, and the Call nodes no other dump of the case also recorded (a Call is one event, merged on
// its event key, so an operator's re-send or a tower dump can record the same call as this dump).
// A Call another dump also recorded stays; when it holds this dump's copy (dump_sha256, as for
// sessions) its cell links go too, as the read that follows writes that copy again.
MATCH (:Dump {case: $case, sha256: $sha256})-[r:RECORDED]->(c:Call)
CALL (r, c) {
  DELETE r
  WITH c
  OPTIONAL MATCH (c)-[x:FIRST_CELL|LAST_CELL]->()
  WHERE c.dump_sha256 = $sha256
  DELETE x
  WITH DISTINCT c
  WHERE NOT EXISTS { (c)<-[:RECORDED]-(:Dump) }
  DETACH DELETE c
} IN TRANSACTIONS OF 10000 ROWS
