// Subscribers sharing a device (IMEI) or a SIM (IMSI): one phone, several numbers, or a swapped SIM.
// Example params: {case: "case42"}
MATCH (a:Subscriber {case: $case})-[ua:USED_DEVICE]->(d:Device)<-[ub:USED_DEVICE]-(b:Subscriber)
WHERE a.msisdn < b.msisdn
RETURN 'device' AS shared, d.imei AS id, a.msisdn AS a, b.msisdn AS b, ua.first AS a_first, ua.last AS a_last,
       ub.first AS b_first, ub.last AS b_last
UNION
MATCH (a:Subscriber {case: $case})-[ua:USED_SIM]->(m:Sim)<-[ub:USED_SIM]-(b:Subscriber)
WHERE a.msisdn < b.msisdn
RETURN 'sim' AS shared, m.imsi AS id, a.msisdn AS a, b.msisdn AS b, ua.first AS a_first, ua.last AS a_last,
       ub.first AS b_first, ub.last AS b_last
