// The sessions behind one CO_USED link: messaging sessions of $a and $b on the same service
// starting within $window_s seconds of each other, with the dump hash and line of each.
// Example params: {case: "case42", a: "919812345678", b: "919887654321", window_s: 180}
MATCH (x:Session {case: $case, msisdn: $a})
WHERE x.app_category = 'messaging'
MATCH (y:Session {case: $case})
WHERE y.service = x.service AND y.start_s >= x.start_s - $window_s AND y.start_s <= x.start_s + $window_s
  AND y.msisdn = $b
RETURN x.service AS service, x.start AS a_start, y.start AS b_start, y.start_s - x.start_s AS delta_s,
       x.app AS a_app, y.app AS b_app, x.dump_sha256 AS a_dump, x.source_line AS a_line,
       y.dump_sha256 AS b_dump, y.source_line AS b_line
ORDER BY x.start_s
