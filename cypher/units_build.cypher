// The co-usage units of subscribers ($msisdns of $case), stored once so that later link runs read
// them instead of every session (cypher/episodes_sessions.cypher): one CoUsageUnits node per
// subscriber holding, per channel, its units as parallel lists sorted by key and start -- the
// same units that statement derives from the sessions (keep the two in step), before the run's
// settings (gap, window, stand-in ends) apply:
// - m_*: messaging sessions ($messaging_categories) keyed by service;
// - c_*: the sessions' cells (the subscriber's own CDR calls are not stored: they depend on the
//   CDR periods, and a subscriber with calls takes the live path);
// - k_*: call units keyed by relay ip:port, with uplink/downlink (-1: none).
// *_d index `dumps`, the dumps the units came from (whose ends and volumes may not be per flow).
// `cats`, `call_ports`, `call_protos` and `call_categories` are the definitions the units were built
// for (cdrnet/analysis/units.py): runs read them only while theirs are the same.
// The offline importer writes the same nodes from its files (graph/bulk_units.py: keep the two in
// step; tests/test_neo4j_bulk.py compares them), so the first run after `neo4j-import` builds none.
// `sessions` is how many sessions were read: a unit set whose subscriber has more or fewer
// sessions now is not used. Every load and forget deletes the case's units and changes the case's
// generation (units_clear.cypher): `generation` is the one the run read before this statement (so
// before any session it reads), and units of another generation are
// never read and are built again.
// A unit with no key (a relay without a port, a service without a name) cannot be stored in a
// list: such a subscriber's node says `usable = false` and its runs take the live path.
// Only subscribers without a current unit set are built; a batch of them per transaction. A link run
// passes only those cypher/units_stale.cypher returns (and runs nothing when none): that read's
// condition is this one, word for word (tests/test_store_api.py); here it guards a run racing another.
MATCH (sub:Subscriber {case: $case})
WHERE sub.msisdn IN $msisdns
CALL (sub) {
  // Looked up inside the batch's own transaction: a unique-key lookup in the outer one would hold
  // its index entry locked and block the batch's MERGE.
  WITH sub WHERE NOT EXISTS { MATCH (u:CoUsageUnits {case: $case, msisdn: sub.msisdn})
                              WHERE u.generation = $generation AND u.cats = $messaging_categories
                                AND u.call_ports = $call_ports AND u.call_protos = $call_protos
                                AND u.call_categories = $call_categories
                                AND u.sessions = COUNT { (sub)-[:HAD]->() } }
  CALL (sub) {
    MATCH (sub)-[:HAD]->(x:Session)
    WITH collect(x) AS xs
    CALL (xs) {
      UNWIND xs AS x
      WITH x, x.start_s AS t, coalesce(x.end_s, x.start_s) AS te, x.app_category AS cat
      UNWIND CASE WHEN cat IN $messaging_categories THEN [['messaging', x.service, t, te, x.dump_sha256, -1, -1]]
                  ELSE [] END
           + CASE WHEN x.cell_id <> '' THEN [['coloc', x.cell_id, t, te, x.dump_sha256, -1, -1]] ELSE [] END
           + CASE WHEN coalesce(x.dest_ip, '') <> ''
                   AND ((x.dest_port >= $call_ports[0] AND x.dest_port <= $call_ports[1]
                         AND coalesce(x.proto, '') IN $call_protos) OR cat IN $call_categories)
                  THEN [['call', x.dest_ip + ':' + toString(x.dest_port), t, te, x.dump_sha256,
                         coalesce(x.uplink, -1), coalesce(x.downlink, -1)]]
                  ELSE [] END AS s
      // Every field: units of one key and start in one order whatever the server's (the offline
      // importer's derivation, graph/bulk_units.py, sorts the same way and must store the same lists).
      WITH s ORDER BY s[0], s[1], s[2], s[3], s[4], s[5], s[6]
      // One row even for a subscriber without units (an aggregation over no rows).
      RETURN collect(s) AS us
    }
    RETURN size(xs) AS n, us
  }
  WITH sub, n, us, reduce(d = [], s IN us | CASE WHEN s[4] IN d THEN d ELSE d + s[4] END) AS dumps
  WITH sub, n, us, dumps, [s IN us WHERE s[0] = 'messaging'] AS mu, [s IN us WHERE s[0] = 'coloc'] AS cu,
       [s IN us WHERE s[0] = 'call'] AS ku
  MERGE (u:CoUsageUnits {case: $case, msisdn: sub.msisdn})
  SET u.generation = $generation, u.sessions = n, u.cats = $messaging_categories,
      u.call_ports = $call_ports, u.call_protos = $call_protos, u.call_categories = $call_categories,
      u.usable = all(s IN us WHERE s[1] IS NOT NULL), u.dumps = dumps,
      u.m_key = [s IN mu | coalesce(s[1], '')], u.m_t = [s IN mu | s[2]], u.m_te = [s IN mu | s[3]],
      u.m_d = [s IN mu | [i IN range(0, size(dumps) - 1) WHERE dumps[i] = s[4]][0]],
      u.c_key = [s IN cu | s[1]], u.c_t = [s IN cu | s[2]], u.c_te = [s IN cu | s[3]],
      u.k_key = [s IN ku | coalesce(s[1], '')], u.k_t = [s IN ku | s[2]], u.k_te = [s IN ku | s[3]],
      u.k_d = [s IN ku | [i IN range(0, size(dumps) - 1) WHERE dumps[i] = s[4]][0]],
      u.k_up = [s IN ku | s[5]], u.k_down = [s IN ku | s[6]]
} IN TRANSACTIONS OF 50 ROWS
