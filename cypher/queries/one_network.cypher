// One network: direct contacts and inferred links
// Calls and SMS from the call records (CALLED, blue) and links inferred from co-usage of
// encrypted apps (CO_USED, red) drawn together; a pair with both shows both lines. Raise
// $min_calls or $min_score to thin a large case.
// :param case => 'case42'    (example)
// :param min_calls => 1    (default)
// :param min_score => 0    (default)
// :param limit => 300    (default)
MATCH p = (a:Subscriber {case: $case})-[r:CO_USED|CALLED]->(b:Subscriber)
WHERE (type(r) = 'CALLED' AND r.calls + r.sms >= $min_calls) OR (type(r) = 'CO_USED' AND r.score >= $min_score)
RETURN p
LIMIT $limit
