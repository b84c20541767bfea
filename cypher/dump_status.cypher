// Is this dump already fully loaded?
OPTIONAL MATCH (d:Dump {case: $case, sha256: $sha256})
RETURN d.complete AS complete
