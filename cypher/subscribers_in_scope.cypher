// Subscribers with sessions in scope, and their messaging session counts.
MATCH (x:Session {case: $case})
WHERE ($since IS NULL OR x.start_s >= $since) AND ($until IS NULL OR x.start_s < $until)
  AND ($msisdns IS NULL OR x.msisdn IN $msisdns)
WITH x.msisdn AS msisdn,
     sum(CASE WHEN x.app_category IN $messaging_categories
              AND ($apps IS NULL OR toLower(x.service) IN $apps OR toLower(x.app) IN $apps) THEN 1 ELSE 0 END) AS messaging
RETURN msisdn, messaging ORDER BY msisdn
