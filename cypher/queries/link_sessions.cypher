// Link sessions
// The session pairs behind the link between $a and $b, for each kind of evidence: messaging
// (same service, starts within $window_s), call (same relay ip:port, starts within
// $call_window_s) and co-location (same cell, starts within $window_s). Swapping a and b gives
// the same rows. There are more rows than the link's episode counts: a link counts episodes
// (a burst of sessions no more than the burst gap apart is one), each row is one pair of sessions.
// Times are local to each dump; file and line lead back to the exported row.
// :param case => 'case42'    (example)
// :param a => '919812345678'    (example)
// :param b => '919887654321'    (example)
// :param window_s => 180    (default)
// :param call_window_s => 5    (default)
// :param limit => 1000    (default)
WITH CASE WHEN $a < $b THEN $a ELSE $b END AS pa, CASE WHEN $a < $b THEN $b ELSE $a END AS pb,
     CASE WHEN $window_s > $call_window_s THEN $window_s ELSE $call_window_s END AS w
MATCH (x:Session {case: $case, msisdn: pa})
// (every session has start_s: the condition lets a's sessions come from the same index)
WHERE x.start_s IS NOT NULL
// Each of a's sessions seeks b's sessions in its window: bounded by two people's sessions.
MATCH (y:Session {case: $case, msisdn: pb})
USING INDEX SEEK y:Session(case, msisdn, start_s)
WHERE y.start_s >= x.start_s - w AND y.start_s <= x.start_s + w
WITH x, y, abs(y.start_s - x.start_s) AS gap,
     (x.dest_port >= 3478 AND x.dest_port <= 3481 AND coalesce(x.proto, '') IN ['udp', '']) OR x.app_category = 'call' AS xc,
     (y.dest_port >= 3478 AND y.dest_port <= 3481 AND coalesce(y.proto, '') IN ['udp', '']) OR y.app_category = 'call' AS yc
UNWIND [k IN [
    CASE WHEN x.app_category = 'messaging' AND y.app_category = 'messaging' AND x.service = y.service
              AND gap <= $window_s THEN ['messaging', x.service] END,
    CASE WHEN xc AND yc AND coalesce(x.dest_ip, '') <> '' AND x.dest_ip = y.dest_ip AND x.dest_port = y.dest_port
              AND gap <= $call_window_s THEN ['call', x.dest_ip + ':' + toString(x.dest_port)] END,
    CASE WHEN coalesce(x.cell_id, '') <> '' AND x.cell_id = y.cell_id AND gap <= $window_s
         THEN ['co-location', x.cell_id] END] WHERE k IS NOT NULL] AS k
WITH x, y, k ORDER BY x.start_s, y.start_s, k[0], x.session_key, y.session_key LIMIT $limit
OPTIONAL MATCH (dx:Dump {case: $case, sha256: x.dump_sha256})
OPTIONAL MATCH (dy:Dump {case: $case, sha256: y.dump_sha256})
RETURN k[0] AS evidence, k[1] AS on, x.msisdn AS a, datetime({datetime: x.start, timezone: coalesce(dx.tz, 'UTC')}) AS a_start,
       y.msisdn AS b, datetime({datetime: y.start, timezone: coalesce(dy.tz, 'UTC')}) AS b_start,
       y.start_s - x.start_s AS delta_s, x.app AS a_app, y.app AS b_app, dx.file_name AS a_file, x.source_line AS a_line,
       dy.file_name AS b_file, y.source_line AS b_line
