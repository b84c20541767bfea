// Sessions of the subscribers in scope per hour of their start (epoch hours), from the
// (case, msisdn, start_s) index: where graph/cousage.py cuts the co-usage statement into time slices
// of about equal sessions when one run of it would need more memory than Neo4j allows a transaction.
UNWIND $msisdns AS m
MATCH (x:Session {case: $case, msisdn: m})
// The hint (which needs a predicate on start_s: every session has one) keeps the planner from
// scanning the label when the case is small; the index gives start_s without reading the node.
USING INDEX x:Session(case, msisdn, start_s)
WHERE x.start_s IS NOT NULL
RETURN x.start_s / 3600 AS hour, count(*) AS sessions
