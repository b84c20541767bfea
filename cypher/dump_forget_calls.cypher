// Drop the call events one dump delivered before it is read again (ingest --replace): each row of a
// CDR or tower dump is its own Call node (RECORDED by that dump only).
MATCH (:Dump {case: $case, sha256: $sha256})-[:RECORDED]->(c:Call)
CALL (c) {
  DETACH DELETE c
} IN TRANSACTIONS OF 10000 ROWS
