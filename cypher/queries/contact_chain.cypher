// Contact chain
// The shortest chains of direct contacts (calls or SMS, either way) between $a and $b, at most
// six calls long: who connects two numbers that never called each other.
// :param case => 'case42'    (example)
// :param a => '919812345678'    (example)
// :param b => '919887654321'    (example)
MATCH (x:Subscriber {case: $case, msisdn: $a}), (y:Subscriber {case: $case, msisdn: $b})
MATCH p = ALL SHORTEST (x)-[:CALLED]-{1,6}(y)
RETURN p
