// One network as a table
// Every pair of the case's own subscribers that is an inferred link (CO_USED), a direct contact
// (CALLED either way: calls, SMS and call time summed over both directions) or both, and which:
// kind = both | inferred | direct. Pairs that are both come first, then links by score, then
// direct contacts by calls + SMS: the same table as network.csv and the report's Direct contacts.
// :param case => 'case42'    (example)
// :param limit => 300    (default)
MATCH (a:Subscriber {case: $case})-[r:CO_USED|CALLED]-(b:Subscriber {case: $case})
WHERE a.msisdn < b.msisdn AND NOT coalesce(a.outside_case, false) AND NOT coalesce(b.outside_case, false)
WITH a, b, [x IN collect(r) WHERE type(x) = 'CO_USED'] AS links, [x IN collect(r) WHERE type(x) = 'CALLED'] AS called
WITH a, b, CASE WHEN size(links) > 0 THEN links[0].score END AS score,
     CASE WHEN size(links) > 0 THEN links[0].q_value END AS q_value, size(called) > 0 AS direct,
     reduce(n = 0, x IN called | n + x.calls) AS calls, reduce(n = 0, x IN called | n + x.sms) AS sms,
     reduce(n = 0, x IN called | n + x.seconds) AS seconds
WITH a, b, score, q_value, calls, sms, seconds,
     CASE WHEN score IS NOT NULL AND direct THEN 'both' WHEN direct THEN 'direct' ELSE 'inferred' END AS kind
RETURN a.msisdn AS a, b.msisdn AS b, kind, score, q_value, calls, sms, seconds
ORDER BY CASE kind WHEN 'both' THEN 0 WHEN 'inferred' THEN 1 ELSE 2 END, score DESC, calls + sms DESC, a, b
LIMIT $limit
