// Common contacts of two suspects: subscribers linked to both $a and $b (scores >= $min_score).
// Example params: {case: "case42", a: "919812345678", b: "919887654321", min_score: 3}
MATCH (x:Subscriber {case: $case, msisdn: $a})-[r1:CO_USED]-(c:Subscriber)-[r2:CO_USED]-(y:Subscriber {case: $case, msisdn: $b})
WHERE r1.score >= $min_score AND r2.score >= $min_score
RETURN c.msisdn AS contact, r1.score AS score_with_a, r2.score AS score_with_b
ORDER BY score_with_a + score_with_b DESC
