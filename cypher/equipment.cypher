// Recompute devices and SIMs used by these subscribers, with first/last use (idempotent).
// imei14 (the first 14 digits: TAC + serial) joins the same handset written as a 15-digit
// IMEI (check digit) and as a 16-digit IMEISV (software version).
MATCH (s:Subscriber {case: $case})
WHERE s.msisdn IN $msisdns
CALL (s) {
  MATCH (s)-[:HAD]->(x:Session)
  WHERE x.imei <> ''
  WITH x.imei AS imei, min(x.start) AS first, max(x.start) AS last, count(*) AS n
  MERGE (d:Device {case: $case, imei: imei})
  SET d.imei14 = left(imei, 14)
  MERGE (s)-[u:USED_DEVICE]->(d)
  SET u.first = first, u.last = last, u.sessions = n
  RETURN count(*) AS devices
}
CALL (s) {
  MATCH (s)-[:HAD]->(x:Session)
  WHERE x.imsi <> ''
  WITH x.imsi AS imsi, min(x.start) AS first, max(x.start) AS last, count(*) AS n
  MERGE (m:Sim {case: $case, imsi: imsi})
  MERGE (s)-[u:USED_SIM]->(m)
  SET u.first = first, u.last = last, u.sessions = n
  RETURN count(*) AS sims
}
RETURN sum(devices) AS devices, sum(sims) AS sims
