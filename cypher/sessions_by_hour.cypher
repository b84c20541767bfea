// Sessions of the subscribers in scope per hour of their start (epoch hours), from the
// (case, msisdn, start_s) index: where graph/cousage.py cuts the co-usage statement into time slices
// of about equal sessions when one run of it would need more memory than Neo4j allows a transaction.
MATCH (x:Session {case: $case})
WHERE x.msisdn IN $msisdns
RETURN x.start_s / 3600 AS hour, count(*) AS sessions
