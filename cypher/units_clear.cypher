// Forget the case's stored co-usage units (cypher/units_build.cypher): every load and forget of a
// dump runs this, so no link run reads units of sessions that have since changed; the next run
// builds them again.
MATCH (u:CoUsageUnits {case: $case})
// (The key's second part named so that the seek reads the (case, msisdn) index, not the label.)
WHERE u.msisdn IS NOT NULL AND u.msisdn <> ''
DETACH DELETE u
// A new generation (the case's node with msisdn ''): a link run's build that read the sessions
// before this load and commits after this statement stores units of the old generation, which no
// run reads (deleting alone cannot catch them: they are not committed yet). Only an existing node
// changes: a link run makes it (units_generation.cypher) before its build reads any session, so a
// load leaves the graph as the bulk import does.
WITH count(*) AS gone
OPTIONAL MATCH (g:CoUsageUnits {case: $case, msisdn: ''})
SET g.generation = randomUUID()
