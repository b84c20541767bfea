// The co-location episodes of one link run: each subscriber's cell sightings (sessions, and the
// calls of its voice/SMS CDRs) per cell, merged while consecutive starts are at most $gap seconds apart.
// Read only: the episodes are rows of this query, collected as `eps` for cypher/episodes_match.cypher
// (appended to it), never nodes: nothing goes through the transaction log.
MATCH (sub:Subscriber {case: $case})
WHERE $msisdns IS NULL OR sub.msisdn IN $msisdns
CALL (sub) {
  CALL (sub) {
    MATCH (sub)-[:HAD]->(x:Session)
    WHERE x.cell_id <> ''
      AND ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
    RETURN x.cell_id AS key, x.start_s AS t, coalesce(x.end_s, x.start_s) AS te
    UNION ALL
    // The cells the subscriber's own voice/SMS CDRs place it at (cdrnet/analysis/units.py
    // call_sightings): the first cell at the call's start; the last cell at its end when it differs.
    // Only calls inside a period of the subscriber's own CDR count ($cdr_periods: number -> [[from,
    // to]] epoch seconds, inclusive): a tower dump's rows count only where they repeat that CDR.
    MATCH (c:Call {case: $case, msisdn: sub.msisdn})
    WHERE ($since IS NULL OR c.start_s >= $since) AND ($until IS NULL OR c.start_s < $until)
      AND any(p IN coalesce($cdr_periods[sub.msisdn], []) WHERE c.start_s >= p[0] AND c.start_s <= p[1])
    WITH c, coalesce(c.first_cell, '') AS first, coalesce(c.last_cell, '') AS last
    UNWIND CASE WHEN last <> '' AND last <> first THEN [[first, c.start_s, c.start_s], [last, c.end_s, c.end_s]]
                ELSE [[first, c.start_s, c.end_s]] END AS seen
    WITH seen WHERE seen[0] <> ''
    RETURN seen[0] AS key, seen[1] AS t, seen[2] AS te
  }
  WITH sub.msisdn AS m, key, t, te
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
