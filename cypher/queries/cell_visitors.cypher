// Who was at a cell
// Everyone one cell saw, from data sessions (AT_CELL) and call records (a call's FIRST_CELL or
// LAST_CELL: the subscriber of the record was there), with the first and last time, in the zone
// of the dump that recorded it, and how many sessions and call events. Give the cell id as
// 'cdrnet cells list' writes it (MCC-MNC-LAC-CI).
// :param case => 'case42'    (example)
// :param cell => '404-70-166-10000'    (example)
// :param limit => 200    (default)
MATCH (c:Cell {case: $case, cell_id: $cell})
CALL (c) {
  MATCH (x:Session)-[:AT_CELL]->(c)
  RETURN x.msisdn AS msisdn, x.start_s AS t, x.dump_sha256 AS dump, 1 AS sessions, 0 AS calls
  UNION ALL
  MATCH (x:Call)-[:FIRST_CELL|LAST_CELL]->(c)
  WITH DISTINCT x
  RETURN x.msisdn AS msisdn, x.start_s AS t, x.dump_sha256 AS dump, 0 AS sessions, 1 AS calls
}
WITH msisdn, min(t) AS first_s, max(t) AS last_s, sum(sessions) AS sessions, sum(calls) AS calls, head(collect(dump)) AS sha
OPTIONAL MATCH (d:Dump {case: $case, sha256: sha})
WITH msisdn, first_s, last_s, sessions, calls, coalesce(d.tz, 'UTC') AS tz
RETURN msisdn, datetime({epochSeconds: first_s, timezone: tz}) AS first,
       datetime({epochSeconds: last_s, timezone: tz}) AS last, sessions, calls
ORDER BY sessions + calls DESC, msisdn
LIMIT $limit
