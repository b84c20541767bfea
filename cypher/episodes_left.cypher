// Whether any link run still holds temporary episodes (their schema is dropped only when none does).
MATCH (e:Episode)
RETURN count(e) > 0 AS left
