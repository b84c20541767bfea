// The call units of one link run: every UDP flow to a STUN/TURN relay ($call_ports) or in the
// call category is its own unit, keyed by relay ip:port. Dumps listed in $record_end_dumps have no
// per-flow end (Airtel: the PDP record's close) and those in $record_volume_dumps no per-flow
// volume (the record's totals): those are left out of the duration and volume comparison (dk:
// duration known).
// Read only: the units are rows of this query, collected as `eps` for cypher/episodes_match.cypher
// (appended to it), never nodes: nothing goes through the transaction log.
MATCH (x:Session {case: $case})
// The definitions ($call_ports, $call_protos, $call_categories) come from cdrnet/analysis/units.py.
WHERE ((x.dest_port >= $call_ports[0] AND x.dest_port <= $call_ports[1] AND coalesce(x.proto, '') IN $call_protos)
       OR x.app_category IN $call_categories)
  AND coalesce(x.dest_ip, '') <> ''
  AND ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
  AND ($msisdns IS NULL OR x.msisdn IN $msisdns)
WITH collect({m: x.msisdn, key: x.dest_ip + ':' + toString(x.dest_port), t: x.start_s, n: 1,
              te: CASE WHEN x.dump_sha256 IN $record_end_dumps THEN x.start_s
                       WHEN coalesce(x.end_s, x.start_s) > x.start_s THEN coalesce(x.end_s, x.start_s)
                       ELSE x.start_s END,
              dk: NOT x.dump_sha256 IN $record_end_dumps,
              up: CASE WHEN x.dump_sha256 IN $record_volume_dumps THEN null ELSE x.uplink END,
              down: CASE WHEN x.dump_sha256 IN $record_volume_dumps THEN null ELSE x.downlink END}) AS eps
