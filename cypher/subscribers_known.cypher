// Which of these numbers are subscribers of the case (an analyst query on an unknown number
// says so instead of answering with no rows).
MATCH (s:Subscriber {case: $case})
WHERE s.msisdn IN $msisdns
RETURN collect(s.msisdn) AS known
