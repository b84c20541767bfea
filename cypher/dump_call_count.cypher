// Call events a dump holds in Neo4j (checked against the parser's count before the dump is complete).
MATCH (d:Dump {case: $case, sha256: $sha256})-[:RECORDED]->(c:Call)
RETURN count(c) AS calls
