// Places
// Where one subscriber was seen: each cell with its position and where the position came from
// (the operator's own columns, a CGI chart or OpenCelliD; none before a list is imported with
// cdrnet cells import), and the first and last session there, in the zone of the subscriber's dump.
// :param case => 'case42'    (example)
// :param msisdn => '919812345678'    (example)
// :param limit => 100    (default)
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})-[u:SEEN_AT]->(c:Cell)
OPTIONAL MATCH (d:Dump {case: $case})-[:OF_SUBSCRIBER]->(s)
WITH s, u, c, coalesce(head(collect(d.tz)), 'UTC') AS tz
RETURN c.cell_id AS cell, c.name AS name, c.lat AS lat, c.lon AS lon, c.position_source AS position_from,
       c.site_name AS site, datetime({datetime: u.first, timezone: tz}) AS first,
       datetime({datetime: u.last, timezone: tz}) AS last, u.sessions AS sessions
ORDER BY sessions DESC, cell
LIMIT $limit
