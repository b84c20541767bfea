// Clear suspects
// Removes every suspect mark of the case (the label only; nothing else changes the graph).
// :param case => 'case42'    (example)
MATCH (s:Suspect {case: $case})
REMOVE s:Suspect
RETURN count(s) AS cleared
