// Record one link run's parameters once, on a LinkRun node of the case (not on every CO_USED),
// and drop the LinkRun nodes whose links were all replaced since.
MERGE (r:LinkRun {case: $case, run: $run})
SET r += $props, r.at = datetime({timezone: $tz})
WITH r
MATCH (old:LinkRun {case: $case})
WHERE old.run <> $run AND NOT EXISTS { MATCH ()-[e:CO_USED {case: $case}]->() WHERE e.run = old.run }
DELETE old
