// Record the dump's data-quality report and mark it complete.
MATCH (d:Dump {case: $case, sha256: $sha256})
SET d += $props, d.complete = true
RETURN d.sha256 AS sha256
