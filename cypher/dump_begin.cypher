// Mark a dump as being loaded (complete = false until every batch is written).
MERGE (d:Dump {case: $case, sha256: $sha256})
ON CREATE SET d.complete = false
SET d.file_name = $file_name
RETURN d.complete AS complete
