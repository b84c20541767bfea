// Appended to cypher/episodes_sessions.cypher (a row per channel: `channel` and its episodes `eps`,
// lists per subscriber and key of [m, key, t, n, te, dk, up, down]): the null model's input and the co-usage events, in one read.
// The channel's settings are $channels[channel]: window, overlap, bucket, tight, tight_coarse, call_filter.
// 1. Bins: episode counts (and summed durations and session counts) per subscriber, key and local
//    hour (hours counted at the zone's standard offset $offset, so local days and hours of day are
//    exact). The messaging channel's session counts are the subscribers' messaging sessions in scope.
// 2. Matches: episode pairs of different subscribers on the same key whose starts differ by at most
//    the window (inclusive) -- or, with overlap, whose episodes overlap. Start mode: a sweep over each
//    key's episodes sorted by start, comparing each with the later ones of its own and the next bucket
//    (one window); overlap mode: a hash join on time buckets. Either way each pair is found once and
//    only neighbours in time are compared (no cartesian product over a service).
//    Aggregated per pair, key and the case-calendar days of the two episodes, so that the engine
//    keeps only matches on days both subscribers were observed.
CALL (channel, eps) {
  UNWIND eps AS g UNWIND g AS e
  // In a time slice, only the episodes it owns (the others are there for the pairs).
  WITH channel, e WHERE $slice IS NULL OR e[2] >= $slice[0]
  WITH e[0] AS a, e[1] AS key, (e[2] + $offset) / 3600 AS h, count(*) AS n, sum(e[4] - e[2]) AS dur,
       sum(e[3]) AS sessions
  RETURN 'bin' AS kind, collect(a) AS a, [] AS b, collect(key) AS key, collect(h) AS da, [] AS db,
         collect(n) AS obs, collect(dur) AS tight, [] AS tight2, [] AS first, [] AS last,
         collect(sessions) AS sessions
  UNION ALL
  WITH channel, eps, $channels[channel] AS p
  CALL (channel, eps, p) {
    // Start mode: the channel's episodes sorted by key and start, one list per key; each episode is
    // paired with the later ones of its own bucket and of the next bucket (a bucket is one window), so
    // every pair is found once, from its earlier episode, and each episode goes once through the sort
    // and the grouping (a hash join on buckets sends it through twice: as data and as a query).
    WITH eps, p.bucket AS w, p.window AS win WHERE NOT p.overlap
    // The sort and the grouping per key in a subquery of their own: grouping on w and win beside the
    // key made the planner evaluate $channels[channel] for every episode.
    CALL (eps) {
      UNWIND eps AS g UNWIND g AS e
      WITH e ORDER BY e[1], e[2]
      RETURN e[1] AS key, collect(e) AS l
    }
    // Where each run of one bucket starts in the sorted list (and the list's end).
    WITH w, win, l, [i IN range(0, size(l) - 1) WHERE i = 0 OR l[i][2] / w <> l[i - 1][2] / w] + [size(l)] AS runs
    UNWIND range(0, size(runs) - 2) AS k
    WITH win, l, runs[k] AS lo, runs[k + 1] AS mid,
         CASE WHEN k + 2 < size(runs) AND l[runs[k + 1]][2] / w = l[runs[k]][2] / w + 1
              THEN runs[k + 2] ELSE runs[k + 1] END AS hi
    UNWIND range(lo, mid - 1) AS i
    // Indexes, not a slice of the list: a slice copies it (that made this sweep slower than the join).
    WITH l[i] AS x, [j IN range(i + 1, hi - 1) WHERE l[j][2] <= l[i][2] + win AND l[j][0] <> l[i][0]
                                 AND ($slice IS NULL OR l[j][2] >= $slice[0]) | l[j]] AS ys
    UNWIND ys AS y
    RETURN x, y
    UNION ALL
    // Overlap mode (windows of their own length): a hash join on time buckets. Each episode is data
    // in its start's bucket and a query in every bucket [t, te] touches, so each pair meets once.
    WITH eps, p WHERE p.overlap
    UNWIND eps AS g UNWIND g AS e
    WITH p, e, e[2] / p.bucket AS b0, e[4] / p.bucket AS b1
    UNWIND range(b0, b1) AS bucket
    WITH e[1] AS key, bucket, collect(e) AS qs, collect(CASE WHEN bucket = b0 THEN e END) AS ds
    UNWIND qs AS x
    UNWIND ds AS y
    WITH x, y
    WHERE y[2] >= x[2] AND y[2] <= x[4] AND y[0] <> x[0] AND (y[2] > x[2] OR y[0] > x[0])
      AND ($slice IS NULL OR y[2] >= $slice[0])  // a pair belongs to the slice of its later episode
    RETURN x, y
  }
  WITH channel, p, x, CASE WHEN x[0] < y[0] THEN x ELSE y END AS ea, CASE WHEN x[0] < y[0] THEN y ELSE x END AS eb
  WHERE NOT p.call_filter OR (
    // Durations are compared only where both ends are the flows' own (else start and relay alone).
    NOT (coalesce(ea[5], true) AND coalesce(eb[5], true)) OR abs((ea[4] - ea[2]) - (eb[4] - eb[2])) <=
      // $min_tol_s and $mirror: the call definitions of cdrnet/analysis/units.py.
      CASE WHEN $min_tol_s > $tol * CASE WHEN ea[4] - ea[2] > eb[4] - eb[2] THEN ea[4] - ea[2] ELSE eb[4] - eb[2] END
           THEN $min_tol_s ELSE $tol * CASE WHEN ea[4] - ea[2] > eb[4] - eb[2] THEN ea[4] - ea[2] ELSE eb[4] - eb[2] END END
    AND (ea[6] IS NULL OR ea[7] IS NULL OR eb[6] IS NULL OR eb[7] IS NULL OR (
         (CASE WHEN ea[6] < eb[7] THEN ea[6] ELSE eb[7] END + 1.0) / (CASE WHEN ea[6] > eb[7] THEN ea[6] ELSE eb[7] END + 1.0) >= $mirror
     AND (CASE WHEN eb[6] < ea[7] THEN eb[6] ELSE ea[7] END + 1.0) / (CASE WHEN eb[6] > ea[7] THEN eb[6] ELSE ea[7] END + 1.0) >= $mirror)))
  // Grouped on three values, not six: the channel is the subquery's own (each call aggregates apart), the
  // pair is one integer (a * size($msisdns) + b: the subscribers are numbers) and so are the two days
  // (da * 2^32 + db - da); graph/cousage.py takes them apart.
  WITH ea[0] * size($msisdns) + eb[0] AS ab, x[1] AS key,
       ((ea[2] + $offset) / 86400) * 4294967296 + (eb[2] + $offset) / 86400 - (ea[2] + $offset) / 86400 AS dd,
       count(*) AS obs, sum(CASE WHEN abs(ea[2] - eb[2]) <= p.tight THEN 1 ELSE 0 END) AS tight,
       sum(CASE WHEN abs(ea[2] - eb[2]) <= p.tight_coarse THEN 1 ELSE 0 END) AS tight2,
       min(CASE WHEN ea[2] < eb[2] THEN ea[2] ELSE eb[2] END) AS first,
       max(CASE WHEN ea[2] > eb[2] THEN ea[2] ELSE eb[2] END) AS last
  RETURN 'match' AS kind, collect(ab) AS a, [] AS b, collect(key) AS key, collect(dd) AS da,
         [] AS db, collect(obs) AS obs, collect(tight) AS tight, collect(tight2) AS tight2,
         collect(first) AS first, collect(last) AS last, [] AS sessions
}
// Two rows per channel of parallel lists (columns), not a row per bin or match: far cheaper to transfer.
RETURN channel, kind, a, b, key, da, db, obs, tight, tight2, first, last, sessions
