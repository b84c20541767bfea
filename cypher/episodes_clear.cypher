// Remove the temporary episodes of one link run (scoped to that run).
MATCH (e:Episode {run: $run})
CALL (e) { DELETE e } IN TRANSACTIONS OF 10000 ROWS
