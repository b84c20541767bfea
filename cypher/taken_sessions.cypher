// Sessions a dump has just taken over from an unfinished one (graph/writes.py OWNER): the links of
// the former copy go (its application and cell, where the new copy names others).
UNWIND $keys AS k
MATCH (s:Session {case: $case, session_key: k})-[r:OF_APP|AT_CELL]->(x)
WHERE (type(r) = 'OF_APP' AND x.name <> coalesce(s.app, ''))
   OR (type(r) = 'AT_CELL' AND x.cell_id <> coalesce(s.cell_id, ''))
DELETE r
RETURN count(r) AS dropped
