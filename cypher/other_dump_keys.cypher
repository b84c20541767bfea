// Session keys of the same subscribers delivered by other complete dumps (resend overlap).
MATCH (d:Dump {case: $case})-[:CONTAINS]->(x:Session)
WHERE d.sha256 <> $sha256 AND d.complete = true AND x.msisdn IN $msisdns
RETURN DISTINCT x.session_key AS key
