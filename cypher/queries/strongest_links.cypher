// Strongest links
// The strongest links in the case, best first, as a table: score (-log10 p), band, messaging
// episodes observed and expected by chance, call signatures, co-located episodes, the services
// and the first/last co-usage (in the case's zone).
// :param case => 'case42'    (example)
// :param limit => 25    (default)
MATCH (a:Subscriber {case: $case})-[r:CO_USED]->(b:Subscriber)
RETURN a.msisdn AS a, b.msisdn AS b, r.score AS score, r.strength AS strength, r.messaging_obs AS episodes,
       r.messaging_exp AS expected, r.call_obs AS calls, r.coloc_obs AS colocated, r.services AS services,
       r.first AS first, r.last AS last
ORDER BY r.score DESC, a, b
LIMIT $limit
