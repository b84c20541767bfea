// The subscribers ($msisdns of $case) without a current co-usage unit set: the only ones a link run
// asks cypher/units_build.cypher to build (none right after `neo4j-import`, which writes them, or
// after an earlier run). A small read in place of the build statement itself, which took 1.1-1.4 s
// right after an import of 1M sessions (2.2-2.7 s after a restart) to find every unit current, the
// read 0.5 s (docs/benchmarks.md, "... the units check after an import"). Current means what units_build
// checks, word for word (tests/test_store_api.py compares the two conditions): the run's
// $generation, its messaging categories and call definitions, and as many sessions as the
// subscriber has now. units_build checks again inside its batches (a run racing another).
MATCH (sub:Subscriber {case: $case})
WHERE sub.msisdn IN $msisdns
  AND NOT EXISTS { MATCH (u:CoUsageUnits {case: $case, msisdn: sub.msisdn})
                   WHERE u.generation = $generation AND u.cats = $messaging_categories
                     AND u.call_ports = $call_ports AND u.call_protos = $call_protos
                     AND u.call_categories = $call_categories
                     AND u.sessions = COUNT { (sub)-[:HAD]->() } }
RETURN collect(sub.msisdn) AS msisdns
