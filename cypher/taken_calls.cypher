// Call events a dump has just taken over from an unfinished one (graph/writes.py OWNER): the cell
// links of the former copy go (where the new copy names other cells).
UNWIND $keys AS k
MATCH (c:Call {case: $case, event_key: k})-[r:FIRST_CELL|LAST_CELL]->(x)
WHERE (type(r) = 'FIRST_CELL' AND x.cell_id <> coalesce(c.first_cell, ''))
   OR (type(r) = 'LAST_CELL' AND x.cell_id <> coalesce(c.last_cell, ''))
DELETE r
RETURN count(r) AS dropped
