// Every dump with its stored report properties.
MATCH (d:Dump {case: $case})
WHERE d.complete = true
RETURN properties(d) AS props
ORDER BY d.loaded_at, d.file_name
