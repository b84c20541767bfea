// Appended to one channel's episode query (cypher/episodes_<channel>.cypher, which collects `eps`):
// the null model's input and the co-usage events, in one read.
// 1. Bins: episode counts (and summed durations) per subscriber, key and local hour (hours counted
//    at the zone's standard offset $offset, so local days and hours of day are exact).
// 2. Matches: episode pairs of different subscribers on the same key whose starts differ by at most
//    $window seconds (inclusive) -- or, with $overlap, whose episodes overlap. A hash join on time
//    buckets of $bucket seconds: each episode is data in its start's bucket and a query in every
//    bucket its window [t, t + $window] (or [t, te]) touches, so each pair meets in exactly one
//    bucket and only neighbours in time are compared (no cartesian product over a service).
//    Aggregated per pair, key and the case-calendar days of the two episodes, so that the engine
//    keeps only matches on days both subscribers were observed.
CALL (eps) {
  UNWIND eps AS e
  WITH e.m AS a, e.key AS key, (e.t + $offset) / 3600 AS h, count(*) AS n, sum(e.te - e.t) AS dur
  RETURN 'bin' AS kind, collect(a) AS a, [] AS b, collect(key) AS key, collect(h) AS da, [] AS db, collect(n) AS obs,
         collect(dur) AS tight, [] AS tight2, [] AS first, [] AS last
  UNION ALL
  UNWIND eps AS e
  WITH e, e.t / $bucket AS b0, (CASE WHEN $overlap THEN e.te ELSE e.t + $window END) / $bucket AS b1
  UNWIND range(b0, b1) AS bucket
  WITH e.key AS key, bucket, collect(e) AS qs, collect(CASE WHEN bucket = b0 THEN e END) AS ds
  UNWIND qs AS x
  UNWIND ds AS y
  WITH x, y
  WHERE y.t >= x.t AND y.t <= CASE WHEN $overlap THEN x.te ELSE x.t + $window END
    AND y.m <> x.m AND (y.t > x.t OR y.m > x.m)
  WITH x, CASE WHEN x.m < y.m THEN x ELSE y END AS ea, CASE WHEN x.m < y.m THEN y ELSE x END AS eb
  WHERE NOT $call_filter OR (
    // Durations are compared only where both ends are the flows' own (else start and relay alone).
    NOT (coalesce(ea.dk, true) AND coalesce(eb.dk, true)) OR abs((ea.te - ea.t) - (eb.te - eb.t)) <=
      // $min_tol_s and $mirror: the call definitions of cdrnet/analysis/units.py.
      CASE WHEN $min_tol_s > $tol * CASE WHEN ea.te - ea.t > eb.te - eb.t THEN ea.te - ea.t ELSE eb.te - eb.t END
           THEN $min_tol_s ELSE $tol * CASE WHEN ea.te - ea.t > eb.te - eb.t THEN ea.te - ea.t ELSE eb.te - eb.t END END
    AND (ea.up IS NULL OR ea.down IS NULL OR eb.up IS NULL OR eb.down IS NULL OR (
         (CASE WHEN ea.up < eb.down THEN ea.up ELSE eb.down END + 1.0) / (CASE WHEN ea.up > eb.down THEN ea.up ELSE eb.down END + 1.0) >= $mirror
     AND (CASE WHEN eb.up < ea.down THEN eb.up ELSE ea.down END + 1.0) / (CASE WHEN eb.up > ea.down THEN eb.up ELSE ea.down END + 1.0) >= $mirror)))
  WITH ea.m AS a, eb.m AS b, x.key AS key, (ea.t + $offset) / 86400 AS da, (eb.t + $offset) / 86400 AS db,
       count(*) AS obs, sum(CASE WHEN abs(ea.t - eb.t) <= $tight THEN 1 ELSE 0 END) AS tight,
       sum(CASE WHEN abs(ea.t - eb.t) <= $tight_coarse THEN 1 ELSE 0 END) AS tight2,
       min(CASE WHEN ea.t < eb.t THEN ea.t ELSE eb.t END) AS first,
       max(CASE WHEN ea.t > eb.t THEN ea.t ELSE eb.t END) AS last
  RETURN 'match' AS kind, collect(a) AS a, collect(b) AS b, collect(key) AS key, collect(da) AS da,
         collect(db) AS db, collect(obs) AS obs, collect(tight) AS tight, collect(tight2) AS tight2,
         collect(first) AS first, collect(last) AS last
}
// Two rows of parallel lists (columns), not a row per bin or match: far cheaper to transfer.
RETURN kind, a, b, key, da, db, obs, tight, tight2, first, last
