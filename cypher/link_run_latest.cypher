// The case's latest link run: every parameter it recorded and when it ran (the definition of the
// case's current network; its links are the case's CO_USED relationships).
MATCH (r:LinkRun {case: $case})
RETURN properties(r) AS props, r.at.epochMillis AS at_ms
ORDER BY r.at DESC
LIMIT 1
