// The messaging episodes of one link run: each subscriber's sessions per service, merged while
// consecutive starts are at most $gap seconds apart (see docs/co-usage.md). Sessions of dumps in
// $record_end_dumps have no per-flow end: they end at start + $end_stand_in (the window in overlap
// mode; 0 in start mode, where ends are not used).
// Read only: the episodes are rows of this query, collected as `eps` for cypher/episodes_match.cypher
// (appended to it), never nodes: nothing goes through the transaction log.
MATCH (sub:Subscriber {case: $case})
WHERE $msisdns IS NULL OR sub.msisdn IN $msisdns
CALL (sub) {
  MATCH (sub)-[:HAD]->(x:Session)
  WHERE x.app_category IN $messaging_categories
      AND ($apps IS NULL OR toLower(x.service) IN $apps OR toLower(x.app) IN $apps)
    AND ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
  WITH sub.msisdn AS m, x.service AS key, x.start_s AS t,
       CASE WHEN x.dump_sha256 IN $record_end_dumps THEN x.start_s + $end_stand_in
            ELSE coalesce(x.end_s, x.start_s) END AS te
  // Sessions starting together fall in one episode whatever their order: no tie-breaker needed.
  ORDER BY key, t
  WITH m, key, collect([t, CASE WHEN te > t THEN te ELSE t END]) AS ts
  WITH m, key, ts, [i IN range(0, size(ts) - 1) WHERE i = 0 OR ts[i][0] - ts[i - 1][0] > $gap] AS starts
  // One row per episode: start, latest end, sessions.
  UNWIND range(0, size(starts) - 1) AS j
  WITH m, key, ts, starts[j] AS lo, CASE WHEN j + 1 < size(starts) THEN starts[j + 1] ELSE size(ts) END AS hi
  RETURN {m: m, key: key, t: ts[lo][0], n: hi - lo,
          te: reduce(mx = ts[lo][1], p IN ts[lo..hi] | CASE WHEN p[1] > mx THEN p[1] ELSE mx END)} AS e
}
WITH collect(e) AS eps
