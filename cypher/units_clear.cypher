// Forget the case's stored co-usage units (cypher/units_build.cypher): every load and forget of a
// dump runs this, so no link run reads units of sessions that have since changed; the next run
// builds them again.
MATCH (u:CoUsageUnits {case: $case})
DETACH DELETE u
