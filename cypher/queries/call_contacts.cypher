// Direct contacts of a number
// Everyone $msisdn called or texted, or was called or texted by (CALLED relationships from the
// call records: distinct calls, a call in both parties' CDRs counted once), most frequent first;
// outside_case marks numbers no dump of the case was requested for.
// :param case => 'case42'    (example)
// :param msisdn => '919812345678'    (example)
// :param limit => 50    (default)
MATCH (s:Subscriber {case: $case, msisdn: $msisdn})-[r:CALLED]-(o:Subscriber)
WITH o, sum(r.calls) AS calls, sum(r.sms) AS sms, sum(r.seconds) AS seconds, min(r.first) AS first,
     max(r.last) AS last,
     sum(CASE WHEN startNode(r) = s THEN r.calls ELSE 0 END) AS calls_out
RETURN o.msisdn AS contact, coalesce(o.outside_case, false) AS outside_case, calls, calls_out,
       calls - calls_out AS calls_in, sms, seconds, first, last
ORDER BY calls + sms DESC, seconds DESC, contact
LIMIT $limit
