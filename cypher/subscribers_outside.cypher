// Mark which numbers are outside the case: no complete dump of the case was requested for them
// (the other parties of call records, the numbers tower dumps saw). Recomputed after every dump,
// so a number that later gets its own dump joins the case.
MATCH (s:Subscriber {case: $case})
WITH s, EXISTS { MATCH (d:Dump {case: $case})-[:OF_SUBSCRIBER]->(s) WHERE d.complete = true } AS requested
SET s.outside_case = NOT requested
RETURN count(s) AS subscribers
