// Shared equipment
// Numbers sharing a handset or a SIM: one phone, several numbers, or a swapped SIM. Handsets
// are matched on imei14 (TAC + serial), so the same phone written with its check digit (15
// digits) or as an IMEISV (16 digits) is one handset.
// :param case => 'case42'    (example)
MATCH (a:Subscriber {case: $case})-[ua:USED_DEVICE]->(d:Device)
MATCH (e:Device {case: $case, imei14: d.imei14})<-[ub:USED_DEVICE]-(b:Subscriber)
WHERE a.msisdn < b.msisdn
RETURN 'device' AS shared, d.imei14 AS id, a.msisdn AS a, b.msisdn AS b, ua.first AS a_first, ua.last AS a_last,
       ub.first AS b_first, ub.last AS b_last
UNION
MATCH (a:Subscriber {case: $case})-[ua:USED_SIM]->(m:Sim)<-[ub:USED_SIM]-(b:Subscriber)
WHERE a.msisdn < b.msisdn
RETURN 'sim' AS shared, m.imsi AS id, a.msisdn AS a, b.msisdn AS b, ua.first AS a_first, ua.last AS a_last,
       ub.first AS b_first, ub.last AS b_last
