// The parameters of the case's link runs (kept once per run on its LinkRun node, not on every CO_USED).
MATCH (r:LinkRun {case: $case})
RETURN r.run AS run, r.window_s AS window_s, r.mode AS mode, r.burst_gap_s AS burst_gap_s,
       r.call_window_s AS call_window_s, r.fdr AS fdr
