// Build the messaging episodes of one link run: each subscriber's sessions per service,
// merged while consecutive starts are at most $gap seconds apart (see docs/co-usage.md).
// Sessions of dumps in $record_end_dumps have no per-flow end: they end at start + $end_stand_in
// (the window in overlap mode; 0 in start mode, where ends are not used).
// One subscriber per transaction keeps memory bounded whatever the size of the case.
MATCH (sub:Subscriber {case: $case})
WHERE $msisdns IS NULL OR sub.msisdn IN $msisdns
CALL (sub) {
  MATCH (sub)-[:HAD]->(x:Session)
  WHERE x.app_category IN $messaging_categories
      AND ($apps IS NULL OR toLower(x.service) IN $apps OR toLower(x.app) IN $apps)
    AND ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
  WITH x.msisdn AS m, x.service AS key, x.start_s AS t, x.session_key AS sk,
       CASE WHEN x.dump_sha256 IN $record_end_dumps THEN x.start_s + $end_stand_in
            ELSE coalesce(x.end_s, x.start_s) END AS te
  ORDER BY m, key, t, sk
  WITH m, key, collect([t, CASE WHEN te > t THEN te ELSE t END]) AS ts
  WITH m, key, ts, [i IN range(0, size(ts) - 1) WHERE i = 0 OR ts[i][0] - ts[i - 1][0] > $gap] AS starts
  // One row per episode: [start, latest end, sessions].
  WITH m, key, [j IN range(0, size(starts) - 1) |
         [ts[starts[j]][0],
          reduce(mx = ts[starts[j]][1], p IN ts[starts[j]..(CASE WHEN j + 1 < size(starts) THEN starts[j + 1] ELSE size(ts) END)] |
                 CASE WHEN p[1] > mx THEN p[1] ELSE mx END),
          (CASE WHEN j + 1 < size(starts) THEN starts[j + 1] ELSE size(ts) END) - starts[j]]] AS eps
  UNWIND eps AS e
  CREATE (:Episode {episode_id: $run + '|messaging|' + m + '|' + key + '|' + toString(e[0]), run: $run,
                    channel: 'messaging', msisdn: m, key: key, t: e[0], t_end: e[1], n: e[2]})
} IN TRANSACTIONS OF 1 ROWS
