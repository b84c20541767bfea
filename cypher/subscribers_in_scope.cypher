// The subscribers a link run scores: those with at least one session in scope ($since, $until;
// $msisdns: the subscribers asked for, null for all). A CDR adds cells, never subscribers.
// An existence check per subscriber stops at its first session in scope: counting every session
// here (a second read of all of them beside the episodes query) cost more than a second at 1M
// sessions. The messaging session counts come from the episodes query's bins instead
// (cypher/episodes_match.cypher, column `sessions`).
MATCH (sub:Subscriber {case: $case})
WHERE ($msisdns IS NULL OR sub.msisdn IN $msisdns)
  AND EXISTS {
    MATCH (sub)-[:HAD]->(x:Session)
    WHERE ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
  }
// Its sessions (all of them: the degree, not a read), for the co-usage statement's memory guess.
RETURN sub.msisdn AS msisdn, COUNT { (sub)-[:HAD]->() } AS sessions ORDER BY msisdn
