// Suspect network
// Everyone within $hops links (1-4) of $msisdn, following only links scoring at least
// $min_score: one shortest path per person reached, found breadth-first with the hop bound
// fixed before expanding (cost grows with the people reached, not with the paths).
// :param case => 'case42'    (example)
// :param msisdn => '919812345678'    (example)
// :param hops => 2    (default)
// :param min_score => 0    (default)
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})
CALL (s) {
  WITH s WHERE $hops = 1
  MATCH p = ANY SHORTEST (s)(()-[r:CO_USED WHERE r.score >= $min_score]-()){1,1}(o:Subscriber)
  RETURN p
  UNION
  WITH s WHERE $hops = 2
  MATCH p = ANY SHORTEST (s)(()-[r:CO_USED WHERE r.score >= $min_score]-()){1,2}(o:Subscriber)
  RETURN p
  UNION
  WITH s WHERE $hops = 3
  MATCH p = ANY SHORTEST (s)(()-[r:CO_USED WHERE r.score >= $min_score]-()){1,3}(o:Subscriber)
  RETURN p
  UNION
  WITH s WHERE $hops = 4
  MATCH p = ANY SHORTEST (s)(()-[r:CO_USED WHERE r.score >= $min_score]-()){1,4}(o:Subscriber)
  RETURN p
}
RETURN p
ORDER BY length(p)
