// Common contacts
// People linked to both $a and $b, ranked by the weaker of their two links (a go-between is
// as strong as its weaker link; a sum would let one strong link hide a weak one).
// :param case => 'case42'    (example)
// :param a => '919812345678'    (example)
// :param b => '919887654321'    (example)
// :param min_score => 0    (default)
MATCH (x:Subscriber {case: $case, msisdn: $a})-[r1:CO_USED]-(c:Subscriber)-[r2:CO_USED]-(y:Subscriber {case: $case, msisdn: $b})
WHERE r1.score >= $min_score AND r2.score >= $min_score AND c <> x AND c <> y
RETURN c.msisdn AS contact, CASE WHEN r1.score < r2.score THEN r1.score ELSE r2.score END AS weaker_score,
       r1.score AS score_with_a, r1.evidence AS evidence_with_a, r2.score AS score_with_b,
       r2.evidence AS evidence_with_b
ORDER BY weaker_score DESC, contact
