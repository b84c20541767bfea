// Recompute devices and SIMs used by these subscribers, with first/last use (idempotent).
MATCH (s:Subscriber)-[:HAD]->(x:Session)
WHERE s.msisdn IN $msisdns AND x.imei <> ''
WITH s, x.imei AS imei, x.imei14 AS imei14, min(x.start) AS first, max(x.start) AS last, count(*) AS n
MERGE (d:Device {imei: imei})
SET d.imei14 = imei14
MERGE (s)-[u:USED_DEVICE]->(d)
SET u.first = first, u.last = last, u.sessions = n
WITH DISTINCT s
MATCH (s)-[:HAD]->(x:Session)
WHERE x.imsi <> ''
WITH s, x.imsi AS imsi, min(x.start) AS first, max(x.start) AS last, count(*) AS n
MERGE (m:Sim {imsi: imsi})
MERGE (s)-[u:USED_SIM]->(m)
SET u.first = first, u.last = last, u.sessions = n
RETURN count(*) AS sims
