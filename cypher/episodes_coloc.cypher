// The co-location episodes of one link run: each subscriber's sessions per cell, merged while
// consecutive starts are at most $gap seconds apart.
// Read only: the episodes are rows of this query, collected as `eps` for cypher/episodes_match.cypher
// (appended to it), never nodes: nothing goes through the transaction log.
MATCH (sub:Subscriber {case: $case})
WHERE $msisdns IS NULL OR sub.msisdn IN $msisdns
CALL (sub) {
  MATCH (sub)-[:HAD]->(x:Session)
  WHERE x.cell_id <> ''
    AND ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
  WITH sub.msisdn AS m, x.cell_id AS key, x.start_s AS t, coalesce(x.end_s, x.start_s) AS te
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
