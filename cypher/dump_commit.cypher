// Record the dump's data-quality report and mark it complete. The requested period is also
// kept as DATETIME (period_start, period_end) for Browser queries; "" (unknown) leaves them unset.
MATCH (d:Dump {case: $case, sha256: $sha256})
SET d += $props, d.complete = true,
    d.period_start = CASE WHEN coalesce($props.period_start_utc, '') <> '' THEN datetime($props.period_start_utc) END,
    d.period_end = CASE WHEN coalesce($props.period_end_utc, '') <> '' THEN datetime($props.period_end_utc) END
WITH d
// The subscriber(s) the dump was requested for (one per operator request; Jio part files share one).
CALL (d) {
  UNWIND coalesce($props.msisdns, []) AS m
  MATCH (s:Subscriber {case: $case, msisdn: m})
  MERGE (d)-[:OF_SUBSCRIBER]->(s)
  RETURN count(*) AS subscribers
}
RETURN d.sha256 AS sha256
