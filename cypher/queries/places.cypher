// Places
// Where one subscriber was seen: each cell with its position and where the position came from
// (the operator's own columns, a CGI chart or OpenCelliD; none before a list is imported with
// cdrnet cells import), the first and last session or call there, in the zone of the subscriber's
// dump, and how many sessions (SEEN_AT) and call events (FIRST_CELL, LAST_CELL of the calls in
// the subscriber's own call records) put the subscriber there.
// :param case => 'case42'    (example)
// :param msisdn => '919812345678'    (example)
// :param limit => 100    (default)
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})
CALL (s) {
  MATCH (s)-[u:SEEN_AT]->(c:Cell)
  RETURN c, u.first AS first, u.last AS last, u.sessions AS sessions, 0 AS calls
  UNION ALL
  MATCH (x:Call {case: $case, msisdn: $msisdn})-[:FIRST_CELL|LAST_CELL]->(c:Cell)
  RETURN c, min(x.start) AS first, max(x.start) AS last, 0 AS sessions, count(DISTINCT x) AS calls
}
WITH s, c, min(first) AS first, max(last) AS last, sum(sessions) AS sessions, sum(calls) AS calls
OPTIONAL MATCH (d:Dump {case: $case})-[:OF_SUBSCRIBER]->(s)
WITH s, c, first, last, sessions, calls, coalesce(head(collect(d.tz)), 'UTC') AS tz
RETURN c.cell_id AS cell, c.name AS name, c.lat AS lat, c.lon AS lon, c.position_source AS position_from,
       c.site_name AS site, datetime({datetime: first, timezone: tz}) AS first,
       datetime({datetime: last, timezone: tz}) AS last, sessions, calls
ORDER BY sessions + calls DESC, cell
LIMIT $limit
