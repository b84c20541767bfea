"""A hand-made case where two subscribers' IPDRs never share a cell but their voice/SMS CDRs
(and one IPDR session) place them together: co-location from call records, counted by hand.

A and B each have an IPDR (the paper's layout, 14-16 March 2026) whose cells differ; A has an
Airtel CDR (period 14-17 March), B a Vi CDR (its rows span 15-17 March). Every cell is written
in another form on each side, so only the canonical key (loader/cells.py) joins them:

1. 15 Mar 10:00:00  A's call starts at ``404-70-0166-33333`` (CDR, leading zeros);
   15 Mar 10:01:00  B's data session at ``404-70-166-33333`` (IPDR).           -> match (60 s)
2. 16 Mar 09:00:00  A's call starts at ``404-70-166-44444`` and ends 09:10:00 at ``404-70-166-55555``;
   16 Mar 09:00:30  B's SMS at ``404 70 166 44444``;                             -> match (30 s)
   16 Mar 09:11:00  B's call at ``404700016655555`` (fixed-width digits).      -> match with A's last cell (60 s)
3. 17 Mar 12:00:00  A's call at ``404-70-166-66666``; 12:02:00 B's call there. -> match (120 s), a day
   only the CDRs cover: counted because co-location's days include the CDR periods.
4. A calls B from ``404-70-166-77777`` on 15 Mar 18:00: B is *not* placed there (A's record
   holds A's cell; B's own CDR row of that call is at B's cell ``404-70-166-88888``).
5. A tower dump of the cell of (1) lists A's call of (1) again, and A and B there on 15 Mar
   15:00 and 15:01: not co-location evidence. A tower dump's rows count only where they repeat a
   subscriber's own CDR (inside its period): B's row lies before B's CDR period (its rows span
   15 Mar 18:00:01 - 17 Mar), so nothing places B there; A's repeats what A's CDR says.

So with call records: 4 co-located episodes, days observed together 4 (3 by the IPDRs).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cdrnet.synth.call_writers import write_calls
from cdrnet.synth.writers import render
from tests.conftest import make_sessions

A, B, X = "919800000001", "919800000002", "919811111111"
#: Co-located episodes of A and B with and without their call records, and common days.
COLOC_WITH_CALLS, COLOC_WITHOUT = 4, 0
COMMON_DAYS_WITH_CALLS, COMMON_DAYS_IPDR = 4, 3


def _ipdr(msisdn: str, cell: str, seed: int, extra: list[dict]) -> pd.DataFrame:
    parts = [make_sessions(30, msisdn, seed, "2026-03-14 06:00:00"), make_sessions(30, msisdn, seed + 1,
                                                                                  "2026-03-15 20:00:00")]
    f = pd.concat(parts, ignore_index=True)
    f["cell_id"] = cell
    if extra:
        row = f.iloc[[0] * len(extra)].reset_index(drop=True)
        for i, e in enumerate(extra):
            for k, v in e.items():
                row.loc[i, k] = v
        f = pd.concat([f, row], ignore_index=True)
    return f.sort_values("start", kind="stable").reset_index(drop=True)


def _calls(rows: list[tuple]) -> pd.DataFrame:
    f = pd.DataFrame(rows, columns=["msisdn", "b_party", "direction", "type", "start", "duration", "cell",
                                    "last_cell"])
    f["start"] = pd.to_datetime(f["start"])
    return f


def write_coloc_case(folder: Path) -> list[Path]:
    """The IPDRs, the CDRs and the tower dump above; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    t = pd.Timestamp("2026-03-15 10:01:00")
    b_extra = [{"start": t, "end": t + pd.Timedelta(seconds=30), "cell_id": "404-70-166-33333"}]
    (folder / "a_ipdr.csv").write_text(render(_ipdr(A, "404-70-166-11111", 3, []), "paper"), encoding="utf-8")
    (folder / "b_ipdr.csv").write_text(render(_ipdr(B, "404-70-166-22222", 5, b_extra), "paper"), encoding="utf-8")
    a = _calls([
        (A, X, "out", "voice", "2026-03-15 10:00:00", 40, "404-70-0166-33333", "404-70-0166-33333"),
        (A, B, "out", "voice", "2026-03-15 18:00:00", 30, "404-70-166-77777", "404-70-166-77777"),
        (A, X, "out", "voice", "2026-03-16 09:00:00", 600, "404-70-166-44444", "404-70-166-55555"),
        (A, X, "in", "voice", "2026-03-17 12:00:00", 20, "404-70-166-66666", "404-70-166-66666"),
    ])
    b = _calls([
        (B, A, "in", "voice", "2026-03-15 18:00:01", 30, "404-70-166-88888", "404-70-166-88888"),
        (B, X, "out", "sms", "2026-03-16 09:00:30", 0, "404 70 166 44444", "404 70 166 44444"),
        (B, X, "out", "voice", "2026-03-16 09:11:00", 50, "404700016655555", "404700016655555"),
        (B, X, "out", "voice", "2026-03-17 12:02:00", 25, "404-70-166-66666", "404-70-166-66666"),
    ])
    tower = _calls([
        (A, X, "out", "voice", "2026-03-15 10:00:00", 40, "404-70-0166-33333", "404-70-0166-33333"),
        (A, X, "out", "voice", "2026-03-15 15:00:00", 20, "404-70-166-33333", "404-70-166-33333"),
        (B, X, "out", "voice", "2026-03-15 15:01:00", 20, "404-70-166-33333", "404-70-166-33333"),
    ])
    period = (pd.Timestamp("2026-03-14 00:00:00"), pd.Timestamp("2026-03-17 23:59:59"))
    return [folder / "a_ipdr.csv", folder / "b_ipdr.csv",
            write_calls(a, "airtel_cdr", folder / "a_airtel_cdr.csv", period=period),
            write_calls(b, "vi_cdr", folder / "b_vi_cdr.csv"),
            write_calls(tower, "airtel_cdr", folder / "tower_33333.csv", tower_cell="404-70-166-33333")]
