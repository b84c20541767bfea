// Canonical sessions for the analysis commands (the columns the graph keeps; see graph/model.py).
MATCH (x:Session {case: $case})
WHERE ($since IS NULL OR x.start_s >= $since)
  AND ($until IS NULL OR x.start_s < $until)
  AND ($msisdns IS NULL OR x.msisdn IN $msisdns)
RETURN x.session_key AS session_key, x.msisdn AS msisdn, x.imsi AS imsi, x.imei AS imei,
       x.start_s AS start_s, x.end_s AS end_s, x.dest_ip AS dest_ip, x.dest_port AS dest_port, x.proto AS proto,
       x.cell_id AS cell_id, x.uplink AS uplink, x.downlink AS downlink, x.app AS app,
       x.app_vendor AS app_vendor, x.app_category AS app_category, x.dump_sha256 AS dump_sha256,
       x.source_line AS source_line, x.layout AS layout
