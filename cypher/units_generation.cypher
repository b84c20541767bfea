// The case's current co-usage units generation (changed by every load and forget, units_clear.cypher),
// read by a link run before its build reads any session: the units it stores carry it, and only
// units of the generation read before the episodes are used. Made by the first run of the case
// (units of earlier versions carry none and are built again); loads only change it.
MERGE (g:CoUsageUnits {case: $case, msisdn: ''})
ON CREATE SET g.generation = randomUUID()
RETURN g.generation AS generation
