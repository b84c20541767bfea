// Whether the case holds a session of one of these subscribers starting inside its span
// ($spans: msisdn, lo, hi in epoch seconds). A session's key includes its number and start, so
// when none is found the Bolt writer CREATEs the batch instead of MERGing it (graph/store.py).
UNWIND $spans AS x
WITH x WHERE EXISTS {
  MATCH (s:Session {case: $case, msisdn: x.msisdn})
  WHERE s.start_s >= x.lo AND s.start_s <= x.hi
}
RETURN count(x) > 0 AS found
