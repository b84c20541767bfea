// Sessions a dump contains (write counters are checked against this).
MATCH (:Dump {case: $case, sha256: $sha256})-[:CONTAINS]->(s:Session)
RETURN count(s) AS sessions
