// Co-usage events of one channel: episode pairs of different subscribers on the same key whose
// starts differ by at most $window seconds (inclusive) -- or, with $overlap, whose episodes
// overlap. An index range seek on Episode(run, channel, key, t) finds each window: no
// cartesian product. Aggregated per pair, key and the case-calendar days of the two episodes
// (days counted at the zone's standard offset $offset), so that the engine keeps only matches on
// days both subscribers were observed.
MATCH (x:Episode {run: $run, channel: $channel})
CALL (x) {
  MATCH (y:Episode)
  // The hint pins a range *seek*: planned on fresh statistics (a new run's episodes),
  // Neo4j otherwise picks a full index scan per episode (quadratic; seen: 15 s vs 0.1 s).
  USING INDEX SEEK y:Episode(run, channel, key, t)
  WHERE y.run = $run AND y.channel = $channel AND y.key = x.key
    AND y.t >= x.t AND y.t <= CASE WHEN $overlap THEN x.t_end ELSE x.t + $window END
    AND y.msisdn <> x.msisdn AND (y.t > x.t OR y.msisdn > x.msisdn)
  RETURN y
}
WITH x, y, CASE WHEN x.msisdn < y.msisdn THEN x ELSE y END AS ea, CASE WHEN x.msisdn < y.msisdn THEN y ELSE x END AS eb
WHERE NOT $call_filter OR (
  // Durations are compared only where both ends are the flows' own (else start and relay alone).
  NOT (coalesce(ea.dur_known, true) AND coalesce(eb.dur_known, true)) OR abs((ea.t_end - ea.t) - (eb.t_end - eb.t)) <=
    // $min_tol_s and $mirror: the call definitions of cdrnet/analysis/units.py.
    CASE WHEN $min_tol_s > $tol * CASE WHEN ea.t_end - ea.t > eb.t_end - eb.t THEN ea.t_end - ea.t ELSE eb.t_end - eb.t END
         THEN $min_tol_s ELSE $tol * CASE WHEN ea.t_end - ea.t > eb.t_end - eb.t THEN ea.t_end - ea.t ELSE eb.t_end - eb.t END END
  AND (ea.up IS NULL OR ea.down IS NULL OR eb.up IS NULL OR eb.down IS NULL OR (
       (CASE WHEN ea.up < eb.down THEN ea.up ELSE eb.down END + 1.0) / (CASE WHEN ea.up > eb.down THEN ea.up ELSE eb.down END + 1.0) >= $mirror
   AND (CASE WHEN eb.up < ea.down THEN eb.up ELSE ea.down END + 1.0) / (CASE WHEN eb.up > ea.down THEN eb.up ELSE ea.down END + 1.0) >= $mirror)))
RETURN ea.msisdn AS a, eb.msisdn AS b, x.key AS key, (ea.t + $offset) / 86400 AS da, (eb.t + $offset) / 86400 AS db,
       count(*) AS obs,
       sum(CASE WHEN abs(ea.t - eb.t) <= $tight THEN 1 ELSE 0 END) AS tight,
       sum(CASE WHEN abs(ea.t - eb.t) <= $tight_coarse THEN 1 ELSE 0 END) AS tight2,
       min(CASE WHEN ea.t < eb.t THEN ea.t ELSE eb.t END) AS first,
       max(CASE WHEN ea.t > eb.t THEN ea.t ELSE eb.t END) AS last
