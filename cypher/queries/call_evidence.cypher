// Calls between two numbers
// Every call and SMS row between $a and $b as the call records hold it (both parties' CDRs
// and tower dumps: one call can appear twice), with the dump's file, SHA-256 and line.
// :param case => 'case42'    (example)
// :param a => '919812345678'    (example)
// :param b => '919887654321'    (example)
MATCH (x:Subscriber {case: $case, msisdn: $a}), (y:Subscriber {case: $case, msisdn: $b})
MATCH (caller:Subscriber)-[:PLACED]->(c:Call)-[:TO]->(callee:Subscriber)
WHERE (caller = x AND callee = y) OR (caller = y AND callee = x)
MATCH (d:Dump)-[:RECORDED]->(c)
RETURN c.start AS start, caller.msisdn AS caller, callee.msisdn AS callee, c.type AS type,
       c.duration_s AS seconds, c.first_cell AS first_cell, d.file_name AS file, d.sha256 AS sha256,
       c.source_line AS line
ORDER BY start, file, line
