// Case network
// Every link of the case (a CO_USED relationship is written only for a pair judged linked),
// drawn: line captions show the strength band and the evidence (msg observed/expected
// episodes, call signatures, co-located episodes). Raise $min_score to thin a large case.
// :param case => 'case42'    (example)
// :param min_score => 0    (default)
// :param limit => 300    (default)
MATCH p = (a:Subscriber {case: $case})-[r:CO_USED]->(b:Subscriber)
WHERE r.score >= $min_score
RETURN p
ORDER BY r.score DESC
LIMIT $limit
