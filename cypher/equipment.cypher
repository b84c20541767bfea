// Recompute what these subscribers used, after each dump (idempotent): devices and SIMs with
// first/last use; the subscriber's summary (first/last seen, sessions, applications) and one
// USED_APP relationship per application, so Browser users read activity without a session scan.
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
CALL (s) {
  MATCH (s)-[:HAD]->(x:Session)
  WITH min(x.start) AS first, max(x.start) AS last, count(x) AS n,
       [a IN collect(DISTINCT x.app) WHERE a <> ''] AS apps
  SET s.first_seen = first, s.last_seen = last, s.sessions = n, s.applications = apps
  RETURN count(*) AS summaries
}
CALL (s) {
  MATCH (s)-[:HAD]->(x:Session)-[:OF_APP]->(a:Application)
  WITH a, min(x.start) AS first, max(x.start) AS last, count(*) AS n
  MERGE (s)-[u:USED_APP]->(a)
  SET u.first = first, u.last = last, u.sessions = n, u.case = $case
  RETURN count(*) AS apps
}
RETURN sum(devices) AS devices, sum(sims) AS sims
