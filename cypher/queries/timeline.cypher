// Timeline
// One subscriber's sessions on one application (name contains $app, any case), in the local
// time of the dump they came from, with the dump's file name and line (the evidence trail).
// :param case => 'case42'    (example)
// :param msisdn => '919812345678'    (example)
// :param app => 'whatsapp'    (example)
// :param limit => 1000    (default)
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})-[:HAD]->(x:Session)-[:OF_APP]->(a:Application)
WHERE toLower(a.name) CONTAINS toLower($app)
WITH x, a ORDER BY x.start_s LIMIT $limit
OPTIONAL MATCH (d:Dump {case: $case, sha256: x.dump_sha256})
WITH x, a, d, coalesce(d.tz, 'UTC') AS tz
RETURN datetime({datetime: x.start, timezone: tz}) AS start, datetime({datetime: x.end, timezone: tz}) AS end,
       a.name AS application, x.dest_ip AS dest_ip, x.dest_port AS dest_port, x.public_ip AS public_ip,
       x.public_port AS public_port, x.cell_id AS cell, d.file_name AS file, x.source_line AS line
ORDER BY x.start_s
