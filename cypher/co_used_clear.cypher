// Drop CO_USED relationships written by earlier link runs (never the current one).
MATCH ()-[e:CO_USED]->()
WHERE e.run <> $run
CALL (e) { DELETE e } IN TRANSACTIONS OF 10000 ROWS
