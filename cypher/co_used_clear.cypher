// Drop CO_USED relationships written by earlier link runs (never the current one).
MATCH (a:Subscriber {case: $case})-[e:CO_USED]->(b:Subscriber {case: $case})
WHERE e.run <> $run AND a.msisdn IN $msisdns AND b.msisdn IN $msisdns
CALL (e) { DELETE e } IN TRANSACTIONS OF 10000 ROWS
