// The episodes of one link run, every channel from one read of the sessions: each session of a
// subscriber in scope ($msisdns: the subscribers with sessions in scope) is read once and counts in
// each channel of $channels (channel -> its settings; a channel left out is not computed) it belongs to:
// - messaging: sessions of a messaging category ($messaging_categories, $apps) per service. Sessions of
//   dumps in $record_end_dumps have no per-flow end: they end at start + $end_stand_in (the window in
//   overlap mode; 0 in start mode, where ends are not used);
// - call: every UDP flow to a STUN/TURN relay ($call_ports, $call_protos) or in the call category
//   ($call_categories) is its own unit, keyed by relay ip:port. Dumps in $record_end_dumps (no per-flow
//   end) and $record_volume_dumps (no per-flow volume) are left out of the duration and volume
//   comparison (dk: duration known);
// - coloc: the subscriber's cell sightings, its sessions' cells and the calls of its own voice/SMS CDRs.
// Sessions of one channel, key and subscriber are merged into an episode while consecutive starts are
// at most the channel's gap apart (see docs/co-usage.md; call units have gap -1: never merged).
// An episode is a list [m, key, t, n, te, dk, up, down] (subscriber, key, start, sessions, latest end,
// and the call units' duration flag and volumes; lists cost the server less than maps). The subscriber
// is its number ($codes: msisdn -> its index in $msisdns): integers compare, group and travel cheaper
// than texts; graph/cousage.py maps them back.
// Read only: the episodes are lists in rows of this query (one per subscriber, channel and key),
// collected per channel as `eps` for
// cypher/episodes_match.cypher (appended to it), never nodes: nothing goes through the transaction log.
// The definitions ($messaging_categories, $call_ports, ...) come from cdrnet/analysis/units.py.
MATCH (sub:Subscriber {case: $case})
WHERE sub.msisdn IN $msisdns
// The subscriber's stored units (cypher/units_build.cypher) where they can stand in for its
// sessions: $stored (no --since/--until/--apps), of the case's current $generation (a build that
// straddled a load carries the one before it), built for these messaging categories and call
// definitions from as many sessions as it has now, and no CDR call of its own adding co-location
// sightings.
OPTIONAL MATCH (u:CoUsageUnits {case: $case, msisdn: sub.msisdn})
WITH sub, CASE WHEN $stored AND u.generation = $generation AND u.usable AND u.cats = $messaging_categories
                    AND u.call_ports = $call_ports AND u.call_protos = $call_protos
                    AND u.call_categories = $call_categories
                    AND u.sessions = COUNT { (sub)-[:HAD]->() }
                    AND ($channels.coloc IS NULL OR NOT EXISTS { MATCH (:Call {case: $case, msisdn: sub.msisdn}) })
               THEN u END AS u
CALL (sub, u) {
  // Stored units: already sorted by key and start, so a channel's episodes are found by one pass
  // over its lists (the same rules as below: a new episode where the key changes or the start is
  // more than the gap after the one before; its end the latest of its units' ends).
  WITH sub, u WHERE u IS NOT NULL
  WITH sub, u, [d IN u.dumps | d IN $record_end_dumps] AS re, [d IN u.dumps | d IN $record_volume_dumps] AS rv
  UNWIND [c IN ['messaging', 'coloc', 'call'] WHERE $channels[c] IS NOT NULL] AS channel
  WITH $codes[sub.msisdn] AS m, channel, re, rv, $channels[channel].gap AS gap,
       CASE channel WHEN 'messaging' THEN u.m_key WHEN 'coloc' THEN u.c_key ELSE u.k_key END AS k,
       CASE channel WHEN 'messaging' THEN u.m_t WHEN 'coloc' THEN u.c_t ELSE u.k_t END AS t,
       CASE channel WHEN 'messaging' THEN u.m_te WHEN 'coloc' THEN u.c_te ELSE u.k_te END AS te,
       CASE channel WHEN 'messaging' THEN u.m_d WHEN 'call' THEN u.k_d ELSE [] END AS d,
       u.k_up AS up, u.k_down AS down
  WHERE size(t) > 0
  WITH m, channel, re, rv, k, t, d, up, down,
       // Each unit's end as below: a stand-in where the dump's ends are not the flows' own.
       CASE channel
         WHEN 'messaging' THEN [i IN range(0, size(t) - 1) |
              CASE WHEN re[d[i]] THEN t[i] + $end_stand_in WHEN te[i] > t[i] THEN te[i] ELSE t[i] END]
         WHEN 'call' THEN [i IN range(0, size(t) - 1) | CASE WHEN re[d[i]] OR te[i] < t[i] THEN t[i] ELSE te[i] END]
         ELSE [i IN range(0, size(t) - 1) | CASE WHEN te[i] > t[i] THEN te[i] ELSE t[i] END] END AS e,
       [i IN range(0, size(t) - 1) WHERE i = 0 OR k[i] <> k[i - 1] OR t[i] - t[i - 1] > gap] + [size(t)] AS b
  RETURN channel, [j IN range(0, size(b) - 2) |
                   [m, k[b[j]], t[b[j]], b[j + 1] - b[j],
                    reduce(mx = e[b[j]], q IN range(b[j] + 1, b[j + 1] - 1) | CASE WHEN e[q] > mx THEN e[q] ELSE mx END),
                    // One list literal, not a concatenation: every later e[i] of a concatenated list
                    // walks its parts (4.8% of the statement's samples in a JFR recording).
                    CASE WHEN channel = 'call' THEN NOT re[d[b[j]]] END,
                    CASE WHEN channel = 'call' AND NOT rv[d[b[j]]] AND up[b[j]] >= 0 THEN up[b[j]] END,
                    CASE WHEN channel = 'call' AND NOT rv[d[b[j]]] AND down[b[j]] >= 0 THEN down[b[j]] END]] AS g
  UNION ALL
  // No stored units: from the sessions.
  WITH sub, u WHERE u IS NULL
  CALL (sub) {
    MATCH (sub)-[:HAD]->(x:Session)
    WHERE ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
    WITH x, x.start_s AS t, coalesce(x.end_s, x.start_s) AS te, x.app_category AS cat,
         x.dump_sha256 IN $record_end_dumps AS record_end
    // One row per channel the session counts in: [channel, key, start, end, dk, up, down].
    UNWIND CASE WHEN $channels.messaging IS NOT NULL AND cat IN $messaging_categories
                 AND ($apps IS NULL OR toLower(x.service) IN $apps OR toLower(x.app) IN $apps)
                THEN [['messaging', x.service, t, CASE WHEN record_end THEN t + $end_stand_in ELSE te END]]
                ELSE [] END
         + CASE WHEN $channels.coloc IS NOT NULL AND x.cell_id <> '' THEN [['coloc', x.cell_id, t, te]] ELSE [] END
         + CASE WHEN $channels.call IS NOT NULL AND coalesce(x.dest_ip, '') <> ''
                 AND ((x.dest_port >= $call_ports[0] AND x.dest_port <= $call_ports[1]
                       AND coalesce(x.proto, '') IN $call_protos) OR cat IN $call_categories)
                THEN [['call', x.dest_ip + ':' + toString(x.dest_port), t, CASE WHEN record_end THEN t ELSE te END,
                       NOT record_end, CASE WHEN x.dump_sha256 IN $record_volume_dumps THEN null ELSE x.uplink END,
                       CASE WHEN x.dump_sha256 IN $record_volume_dumps THEN null ELSE x.downlink END]]
                ELSE [] END AS s
    RETURN s
    UNION ALL
    // The cells the subscriber's own voice/SMS CDRs place it at (cdrnet/analysis/units.py
    // call_sightings): the first cell at the call's start; the last cell at its end when it differs.
    // Only calls inside a period of the subscriber's own CDR count ($cdr_periods: number -> [[from,
    // to]] epoch seconds, inclusive): a tower dump's rows count only where they repeat that CDR.
    MATCH (c:Call {case: $case, msisdn: sub.msisdn})
    WHERE $channels.coloc IS NOT NULL
      AND ($since IS NULL OR c.start_s >= $since) AND ($until IS NULL OR c.start_s < $until)
      AND any(p IN coalesce($cdr_periods[sub.msisdn], []) WHERE c.start_s >= p[0] AND c.start_s <= p[1])
    WITH c, coalesce(c.first_cell, '') AS first, coalesce(c.last_cell, '') AS last
    UNWIND CASE WHEN last <> '' AND last <> first THEN [[first, c.start_s, c.start_s], [last, c.end_s, c.end_s]]
                ELSE [[first, c.start_s, c.end_s]] END AS seen
    WITH seen WHERE seen[0] <> ''
    RETURN ['coloc'] + seen AS s
  }
  WITH $codes[sub.msisdn] AS m, s[0] AS channel, s[1] AS key, s[2] AS t, s[3] AS te, s[4..] AS rest
  // Sessions starting together fall in one episode whatever their order: no tie-breaker needed.
  ORDER BY channel, key, t
  WITH m, channel, key, collect([t, CASE WHEN te > t THEN te ELSE t END] + rest) AS ts
  WITH m, channel, key, ts, $channels[channel].gap AS gap
  WITH m, channel, key, ts, [i IN range(0, size(ts) - 1) WHERE i = 0 OR ts[i][0] - ts[i - 1][0] > gap] AS starts
  // One row per subscriber, channel and key, holding its episodes (start, sessions, latest end, and a
  // call unit's own flag and volumes): a list built in place costs less than a row per episode.
  WITH m, channel, key, ts, starts + [size(ts)] AS bounds
  RETURN channel, [j IN range(0, size(bounds) - 2) |
                   [m, key, ts[bounds[j]][0], bounds[j + 1] - bounds[j],
                    // Indexes, not a slice ts[lo..hi]: a slice of a list costs as much as the part it skips.
                    reduce(mx = ts[bounds[j]][1], q IN range(bounds[j] + 1, bounds[j + 1] - 1) |
                           CASE WHEN ts[q][1] > mx THEN ts[q][1] ELSE mx END),
                    ts[bounds[j]][2], ts[bounds[j]][3], ts[bounds[j]][4]]] AS g
}
// A time slice ($slice: [from, to) epoch seconds, or null for all time; graph/cousage.py cuts a
// case into slices when one statement would pass Neo4j's memory limit): the episodes starting in
// it, which it owns (their bins, and every pair whose later episode they are), and the ones before
// it that such a pair may need: starting at most a window earlier, or in overlap mode ending in it.
WITH channel, CASE WHEN $slice IS NULL THEN g
                   ELSE [e IN g WHERE e[2] < $slice[1] AND (e[2] >= $slice[0] OR CASE WHEN $channels[channel].overlap
                         THEN e[4] >= $slice[0] ELSE e[2] + $channels[channel].window >= $slice[0] END)] END AS g
WITH channel, collect(g) AS eps
