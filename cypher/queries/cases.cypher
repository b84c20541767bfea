// Cases
// Which cases this database holds (each cdrnet workspace or --case is one case), with their
// dumps, subscribers and links. Set the case every other query reads with :param case.
MATCH (d:Dump)
WHERE d.complete = true
WITH d.case AS c, count(d) AS dumps, min(d.period_start) AS period_from, max(d.period_end) AS period_until
OPTIONAL MATCH (r:LinkRun {case: c})
WITH c, dumps, period_from, period_until, max(r.at) AS linked_at
RETURN c AS `case`, dumps, COUNT { (s:Subscriber {case: c}) } AS subscribers,
       COUNT { ()-[e:CO_USED {case: c}]->() } AS links, period_from, period_until, linked_at
ORDER BY c
