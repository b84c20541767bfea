"""A hand-made call-record case whose contact aggregates are computed by hand (generated numbers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cdrnet.synth.call_writers import write_calls

A, B, C, D = "919800000001", "919800000002", "919800000003", "919800000004"
X, Y, Z = "919811111111", "919822222222", "919833333333"


def _events(rows: list[tuple]) -> pd.DataFrame:
    f = pd.DataFrame(rows, columns=["msisdn", "b_party", "direction", "type", "start", "duration"])
    f["start"] = pd.to_datetime(f["start"])
    f["cell"] = "404-70-166-2001"
    return f


def write_contact_case(folder: Path) -> list[Path]:
    """A's Airtel CDR and B's Jio CDR; C and D are outside the case.

    Call A -> B at 10:00:00 and the SMS at 10:05 are in both CDRs (B's switch one second
    late): each counts once.
    """
    a = _events([
        (A, B, "out", "voice", "2026-03-14 10:00:00", 60),
        (A, B, "out", "sms", "2026-03-14 10:05:00", 0),
        (A, C, "in", "voice", "2026-03-14 23:30:00", 120),
        (A, D, "out", "voice", "2026-03-15 09:00:00", 30),
        (A, B, "out", "voice", "2026-03-15 22:15:00", 100),
    ])
    b = _events([
        (B, A, "in", "voice", "2026-03-14 10:00:01", 60),
        (B, A, "in", "sms", "2026-03-14 10:05:00", 0),
        (B, C, "out", "voice", "2026-03-14 12:00:00", 45),
        (B, C, "in", "voice", "2026-03-16 08:00:00", 15),
    ])
    return [write_calls(a, "airtel_cdr", folder / "a_airtel.csv"), write_calls(b, "jio_cdr", folder / "b_jio.csv")]


#: caller -> callee: calls, sms, seconds, first, last (IST), by hand from the rows above.
EXPECTED_CALLED = [
    (A, B, 2, 1, 160, "2026-03-14 10:00:00", "2026-03-15 22:15:00"),
    (A, D, 1, 0, 30, "2026-03-15 09:00:00", "2026-03-15 09:00:00"),
    (B, C, 1, 0, 45, "2026-03-14 12:00:00", "2026-03-14 12:00:00"),
    (C, A, 1, 0, 120, "2026-03-14 23:30:00", "2026-03-14 23:30:00"),
    (C, B, 1, 0, 15, "2026-03-16 08:00:00", "2026-03-16 08:00:00"),
]


def write_tower_case(folder: Path) -> list[Path]:
    """Three tower dumps (three places); X is at all three, Y at the first two, Z at the first and third."""
    def tower(rows: list[tuple], cell: str, name: str) -> Path:
        f = _events([(m, "919899999999", "out", "voice", t, 20) for m, t in rows])
        return write_calls(f, "airtel_cdr", folder / name, tower_cell=cell)

    return [
        tower([(X, "2026-03-14 21:10:00"), (Y, "2026-03-14 22:30:00"), (Z, "2026-03-14 21:05:00")],
              "405-52-8192-1", "scene.csv"),
        tower([(X, "2026-03-15 01:00:00"), (Y, "2026-03-15 10:00:00")], "405-52-8192-2", "hideout.csv"),
        tower([(X, "2026-03-15 12:00:00"), (Z, "2026-03-15 12:30:00")], "405-52-8192-3", "border.csv"),
    ]


def called_tuples(agg: pd.DataFrame, tz: str = "Asia/Kolkata") -> list[tuple]:
    """An aggregate as comparable tuples with local times."""
    f = agg.sort_values(["a", "b"])
    first = f["first_utc"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
    last = f["last_utc"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
    return list(zip(f["a"], f["b"], f["calls"].astype(int), f["sms"].astype(int), f["seconds"].astype(int),
                    first, last, strict=True))
