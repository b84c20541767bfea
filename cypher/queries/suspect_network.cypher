// A suspect's network: every subscriber within $hops CO_USED hops (1-4) of $msisdn,
// following only links scoring at least $min_score.
// Example params: {case: "case42", msisdn: "919812345678", hops: 2, min_score: 5}
MATCH p = (s:Subscriber {case: $case, msisdn: $msisdn})-[:CO_USED*1..4]-(o:Subscriber)
WHERE length(p) <= $hops AND all(r IN relationships(p) WHERE r.score >= $min_score)
RETURN p
