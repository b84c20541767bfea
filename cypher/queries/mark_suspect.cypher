// Mark suspect
// Marks $msisdn as a suspect (label Suspect: the style draws it larger, in red). Changes the
// graph: remove the mark with clear_suspects.
// :param case => 'case42'    (example)
// :param msisdn => '919812345678'    (example)
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})
SET s:Suspect
RETURN s.msisdn AS suspect
