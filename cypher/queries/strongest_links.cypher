// The strongest links in the case (CO_USED marked as links), best first.
// Example params: {case: "case42", limit: 25}
MATCH (a:Subscriber {case: $case})-[r:CO_USED]->(b:Subscriber)
WHERE r.link = true
RETURN a.msisdn AS a, b.msisdn AS b, r.score AS score, r.messaging_obs AS episodes, r.messaging_exp AS expected,
       r.call_obs AS calls, r.coloc_obs AS colocated, r.services AS services, r.first AS first, r.last AS last
ORDER BY r.score DESC
LIMIT $limit
