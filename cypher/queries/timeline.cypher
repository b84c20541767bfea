// A subscriber's timeline on one application (name contains $app, case-insensitive).
// Example params: {case: "case42", msisdn: "919812345678", app: "whatsapp"}
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})-[:HAD]->(x:Session)-[:OF_APP]->(a:Application)
WHERE toLower(a.name) CONTAINS toLower($app)
OPTIONAL MATCH (x)-[:AT_CELL]->(c:Cell)
RETURN x.start AS start, x.end AS end, a.name AS application, x.dest_ip AS dest_ip, x.dest_port AS dest_port,
       c.cell_id AS cell, x.dump_sha256 AS dump, x.source_line AS line
ORDER BY x.start_s
