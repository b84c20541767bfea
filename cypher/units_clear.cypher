// Forget the case's stored co-usage units (cypher/units_build.cypher): every load and forget of a
// dump runs this, so no link run reads units of sessions that have since changed; the next run
// builds them again.
MATCH (u:CoUsageUnits {case: $case})
// (The key's second part named so that the seek reads the (case, msisdn) index, not the label.)
WHERE u.msisdn IS NOT NULL
DETACH DELETE u
