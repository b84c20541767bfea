"""The bulk import's call-record files (graph/bulk_calls.py) without a server: what the Bolt writer's
sequence of per-dump updates leaves, computed at once (the full comparison is tests/test_neo4j_bulk.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.graph.bulk_calls import call_cell_rows, called_table
from cdrnet.graph.store import BATCH


def _events(rows: list[tuple]) -> pd.DataFrame:
    """Call events (caller, callee, type, start UTC, seconds, zone, dump, key) with the columns aggregates read."""
    f = pd.DataFrame(rows, columns=["caller", "callee", "type", "start_utc", "duration_s", "tz", "dump_sha256",
                                    "event_key"])
    f["start_utc"] = pd.to_datetime(f["start_utc"], utc=True).astype("datetime64[s, UTC]")
    f["msisdn"] = f["caller"]
    f["source_line"] = np.arange(len(f)) + 2
    return f


def test_called_zone_is_that_of_the_last_dump_naming_either_number():
    # Dump 0 (Kolkata) has A->B; dump 1 (Dubai) has C->B: B's last dump is 1, so A->B takes Dubai's
    # zone (the Bolt writer's update after dump 1 rewrote every pair of B). D->E is only in dump 0.
    calls = _events([
        ("A", "B", "voice", "2026-03-03T03:49:37Z", 60, "Asia/Kolkata", "d0", "k1"),
        ("A", "B", "sms", "2026-03-04T03:49:37Z", 0, "Asia/Kolkata", "d0", "k2"),
        ("D", "E", "voice", "2026-03-02T00:00:00Z", 5, "Asia/Kolkata", "d0", "k3"),
        ("C", "B", "voice", "2026-03-05T10:00:00Z", 30, "Asia/Dubai", "d1", "k4"),
    ])
    which = np.array([0, 0, 0, 1], dtype=np.int32)
    agg, props = called_table(calls, calls, which, "c")
    got = {(a, b): (c, m, s, f, la) for a, b, c, m, s, f, la in zip(
        agg["a"], agg["b"], props["calls"][0].to_pylist(), props["sms"][0].to_pylist(),
        props["seconds"][0].to_pylist(), props["first"][0].to_pylist(), props["last"][0].to_pylist(), strict=True)}
    assert got == {
        ("A", "B"): (1, 1, 60, "2026-03-03T07:49:37+04:00[Asia/Dubai]", "2026-03-04T07:49:37+04:00[Asia/Dubai]"),
        ("C", "B"): (1, 0, 30, "2026-03-05T14:00:00+04:00[Asia/Dubai]", "2026-03-05T14:00:00+04:00[Asia/Dubai]"),
        ("D", "E"): (1, 0, 5, "2026-03-02T05:30:00+05:30[Asia/Kolkata]", "2026-03-02T05:30:00+05:30[Asia/Kolkata]"),
    }
    assert props["first_s"][0].to_pylist()[0] == int(pd.Timestamp("2026-03-03T03:49:37Z").timestamp())


def test_call_cells_in_the_bolt_writers_order():
    # Per batch of BATCH events the Bolt writer sends the first cells, then the last cells.
    n = BATCH + 2
    calls = pd.DataFrame({f"{s}_{c}": [f"{s}{i}" for i in range(n)] for s in ("first", "last")
                          for c in ("cell", "cell_raw", "cell_name")})
    for s in ("first", "last"):
        calls[f"{s}_lat"], calls[f"{s}_lon"] = 1.0, 2.0
    rows = call_cell_rows(calls, np.zeros(n, dtype=np.int32)).sort_values(["load", "seq"], kind="stable")
    order = rows["cell_id"].tolist()
    assert order[:2] == ["first0", "first1"] and order[BATCH - 1] == f"first{BATCH - 1}"
    assert order[BATCH] == "last0" and order[2 * BATCH - 1] == f"last{BATCH - 1}"
    assert order[2 * BATCH:] == [f"first{BATCH}", f"first{BATCH + 1}", f"last{BATCH}", f"last{BATCH + 1}"]
