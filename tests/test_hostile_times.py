"""Issue 19, class 4: times that do not exist or happen twice, and dates far from a dump's period.

Every file here is generated: a corpus over daylight-saving zones (every minute around each
transition) and a simulated case with stray rows (1970, 1999, 2099, a year later) added to it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from cdrnet.analysis.cousage import LinkParams
from cdrnet.loader import textblocks
from cdrnet.loader.strays import REASON, main_run, stray_days
from cdrnet.loader.timeparse import to_utc
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.synth.writers import PAPER_HEADER
from cdrnet.workspace import Workspace
from tests.conftest import SIM_ORDER, ingest

DST_ZONES = ["Europe/London", "America/New_York", "Australia/Sydney"]


def transitions(zone: str, year: int = 2023) -> list[tuple[dt.datetime, int]]:
    """Local wall-clock times (naive) where the zone's UTC offset changes, with the change in minutes."""
    tz = ZoneInfo(zone)
    out = []
    t = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    step = dt.timedelta(hours=1)
    prev = t.astimezone(tz).utcoffset()
    while t.year == year:
        t += step
        off = t.astimezone(tz).utcoffset()
        if off != prev:
            shift = int((off - prev).total_seconds() // 60)
            # The wall clock just before the change, at the hour where it happens.
            out.append(((t - step).astimezone(tz).replace(tzinfo=None, minute=0, second=0), shift))
            prev = off
    return out


@pytest.mark.parametrize("zone", DST_ZONES)
def test_every_local_minute_around_each_transition_gets_a_time(zone):
    for wall, _shift in transitions(zone):
        local = pd.Series(pd.date_range(wall - pd.Timedelta(hours=2), wall + pd.Timedelta(hours=3), freq="min"))
        utc = to_utc(local.astype("datetime64[s]"), zone)
        assert utc.notna().all(), f"{zone} {wall}: empty times"
        # One rule, no surprises: later wall-clock times never read as earlier instants.
        assert (utc.diff().dropna() >= pd.Timedelta(0)).all()


def _wall(m: pd.Timestamp, tz: ZoneInfo, fold: int = 0) -> dt.datetime:
    return m.to_pydatetime().replace(tzinfo=tz, fold=fold)


@pytest.mark.parametrize("zone", DST_ZONES)
def test_gap_moves_forward_and_overlap_reads_the_first_occurrence(zone):
    tz = ZoneInfo(zone)
    for wall, shift in transitions(zone):
        minutes = pd.date_range(wall - pd.Timedelta(hours=3), wall + pd.Timedelta(hours=4), freq="min")
        if shift > 0:  # spring: wall times that do not exist
            gap = [m for m in minutes
                   if _wall(m, tz).astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != m.to_pydatetime()]
            assert gap, f"{zone}: no gap found near {wall}"
            got = to_utc(pd.Series(gap).astype("datetime64[s]"), zone)
            # shift_forward: every non-existent time becomes the first instant after the gap.
            after = _wall(gap[-1] + pd.Timedelta(minutes=1), tz).astimezone(dt.UTC)
            assert (got == pd.Timestamp(after)).all(), (zone, gap[0], got.iloc[0])
        else:  # autumn: wall times that happen twice
            twice = [m for m in minutes if _wall(m, tz, 0).utcoffset() != _wall(m, tz, 1).utcoffset()]
            assert twice, f"{zone}: no overlap found near {wall}"
            got = to_utc(pd.Series(twice).astype("datetime64[s]"), zone)
            first = [pd.Timestamp(_wall(m, tz, 0).astimezone(dt.UTC)) for m in twice]
            assert got.tolist() == first


@pytest.mark.parametrize("zone", DST_ZONES)
def test_a_stated_period_reads_like_the_rows(zone):
    from cdrnet.loader.period import to_utc as period_to_utc

    for wall, _ in transitions(zone):
        for m in pd.date_range(wall - pd.Timedelta(hours=1), wall + pd.Timedelta(hours=2), freq="min"):
            assert period_to_utc(m, zone) == to_utc(pd.Series([m]).astype("datetime64[s]"), zone).iloc[0]


def _paper_row(msisdn: str, local: pd.Timestamp, seconds: int = 60, dest: str = "157.240.1.52", port: str = "5222",
               cell: str = "404-70-1-1") -> str:
    end = local + pd.Timedelta(seconds=seconds)
    return ",".join(["10.0.0.1", "40000", "100.64.0.1", "50000", dest, port, msisdn, "404701234567890",
                     local.strftime("%d/%m/%Y"), local.strftime("%H:%M:%S"), end.strftime("%d/%m/%Y"),
                     end.strftime("%H:%M:%S"), "353456012345670", cell, "100", "200", "300", "4G"])


@pytest.mark.parametrize("zone", DST_ZONES)
def test_dump_across_transitions_stores_no_empty_time(tmp_path, zone):
    """A dump whose rows cover every 7 minutes around both transitions of the year: every row is
    stored with a start and an end (or rejected with a reason), never with an empty time."""
    rows = []
    for wall, _ in transitions(zone):
        for m in pd.date_range(wall - pd.Timedelta(hours=2), wall + pd.Timedelta(hours=3), freq="7min"):
            rows.append(_paper_row("919812345678", m, seconds=30 * 60))
    path = tmp_path / "dst.csv"
    path.write_text("\n".join([",".join(PAPER_HEADER), *rows]) + "\n")
    ws = Workspace(tmp_path / "ws").create()
    rep = ingest(ws, path, tz=zone, date_order="dmy").loaded[0]
    assert rep.accounted and rep.lines_read == len(rows) + 1
    frame = ws.sessions(dedupe=False)
    assert len(frame) + rep.rejected_total == len(rows)
    assert rep.rejected_total == rep.rejected.get("duplicate_row", 0) + rep.rejected.get("resent_row", 0)
    for c in ("start_utc", "end_utc"):
        assert frame[c].notna().all(), f"{zone}: {c} empty"
    assert (frame["end_utc"] >= frame["start_utc"]).all()


# -- dates far from the dump's period ----------------------------------------------------------

def _case(tmp_path: Path) -> Path:
    sc = build_scenario("easy", subscribers=8, days=4, seed=3)
    simulate(sc, tmp_path / "case")
    return tmp_path / "case" / "dumps"


def _add_rows(path: Path, dates: list[str], messaging: bool = True, at: int = 5) -> list[str]:
    """Copy a messaging row of the dump with another date (day-first, as the dump writes them)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    i_date, i_end, i_ip = header.index("START_DATE"), header.index("END_DATE"), header.index("DESTIP")
    template = next(r for r in lines[1:] if (",157.240." in r) == messaging).split(",")
    added = []
    for k, d in enumerate(dates):
        row = list(template)
        row[i_date] = row[i_end] = d
        assert row[i_ip]
        added.append(",".join(row))
        lines.insert(at + k, added[-1])
    path.write_text("\n".join(lines) + "\n")
    return added


STRAYS = ["04/03/2025", "01/01/1970", "04/03/2099", "04/03/1999", "31/12/1999"]


def _edges(ws: Workspace) -> pd.DataFrame:
    return ws.link(LinkParams()).edges.sort_values(["a", "b"]).reset_index(drop=True)


def test_stray_rows_move_no_pair_score(tmp_path):
    """Stray rows (the same far dates in two dumps, messaging sessions) are rejected with a reason
    and every pair's edge row stays exactly what it was without them."""
    dumps = _case(tmp_path)
    base_ws = Workspace(tmp_path / "base").create()
    assert not ingest(base_ws, dumps, date_order=SIM_ORDER).failed
    base = _edges(base_ws)
    files = sorted(dumps.iterdir())
    for f in files[2:4]:
        _add_rows(f, STRAYS)
    _add_rows(files[5], STRAYS[:2], messaging=False, at=40)
    ws = Workspace(tmp_path / "stray").create()
    result = ingest(ws, dumps, date_order=SIM_ORDER)
    far = {r.name.rsplit("/", 1)[-1]: r.rejected.get(REASON, 0) for r in result.loaded}
    assert far[files[2].name] == far[files[3].name] == len(STRAYS) and far[files[5].name] == 2
    assert sum(far.values()) == 2 * len(STRAYS) + 2
    for r in result.loaded:
        assert r.accounted
        assert pd.Timestamp(r.period_start_utc).year == 2024 and pd.Timestamp(r.period_end_utc).year == 2024
    rejects = pd.read_csv(ws.root / "rejects.csv", dtype=str)
    listed = rejects[rejects["reason"] == REASON]
    assert len(listed) == 2 * len(STRAYS) + 2
    assert set(listed["raw"].str.extract(r"(\d\d/\d\d/\d{4})")[0]) == set(STRAYS)
    pd.testing.assert_frame_equal(_edges(ws), base)
    lines = next(r for r in result.loaded if r.name.endswith(files[2].name)).summary_lines()
    assert any(f"{len(STRAYS)} row(s) dated far from the dump's period" in line for line in lines)


def test_strays_are_decided_over_the_whole_dump_when_it_spans_many_blocks(tmp_path, monkeypatch):
    """Tiny blocks: strays at the start of a dump (before its bulk is seen) are held back and
    decided when the dump ends, and a dump's real rows are never taken for strays."""
    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 4096)
    dumps = _case(tmp_path)
    f = sorted(dumps.iterdir())[0]
    base_ws = Workspace(tmp_path / "base").create()
    base = ingest(base_ws, f, date_order=SIM_ORDER).loaded[0]
    _add_rows(f, ["01/01/1970", "04/03/2025"], at=1)
    ws = Workspace(tmp_path / "ws").create()
    rep = ingest(ws, f, date_order=SIM_ORDER).loaded[0]
    assert rep.rejected == {REASON: 2} and rep.loaded == base.loaded
    assert (rep.start_min, rep.start_max) == (base.start_min, base.start_max)


def test_rows_far_outside_a_stated_period_are_strays_near_ones_are_kept(tmp_path):
    """Airtel states the period (04-Mar-2024 .. 06-Mar-2024): a row a year later is a stray,
    a row a day after the period is kept and counted as outside it, as before."""
    sc = build_scenario("easy", subscribers=2, days=3, seed=5, layout="airtel")
    simulate(sc, tmp_path / "case")
    f = sorted((tmp_path / "case" / "dumps").iterdir())[0]
    base = ingest(Workspace(tmp_path / "ws0").create(), f).loaded[0]
    assert base.period_source == "preamble"
    lines = f.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("MSISDN,")) + 1
    sample = lines[at]
    day = sample.split(",")[5][:11]  # e.g. 04-Mar-2024
    far = sample.replace(day, day[:-4] + str(int(day[-4:]) + 1))
    period_end = pd.Timestamp(base.period_end_utc).tz_convert("Asia/Kolkata")
    near = sample.replace(day, (period_end + pd.Timedelta(days=1)).strftime("%d-%b-%Y"))
    lines[at:at] = [far, near]
    f.write_text("\n".join(lines) + "\n")
    rep = ingest(Workspace(tmp_path / "ws").create(), f).loaded[0]
    assert rep.rejected == {REASON: 1}
    assert rep.loaded == base.loaded + 1 and rep.rows_outside_period == 1 and rep.accounted


def test_main_run_takes_the_run_with_most_rows():
    from collections import Counter

    days = Counter({100: 5, 101: 7, 130: 1, 200: 2, 800: 50, 801: 40})
    assert main_run(days) == (800, 801)
    assert main_run(Counter({100: 3, 125: 3, 150: 3})) == (100, 150)  # gaps of 25 days: one run
    assert main_run(Counter()) is None
    assert np.isscalar(main_run(Counter({5: 1}))[0])


def test_only_small_runs_apart_from_the_main_one_are_strays():
    from collections import Counter

    # 200 rows in the main run; a lone row a year later and 3 rows in 1970 are strays; a second
    # season of 150 rows (a phone off for months, then back) is not.
    days = Counter({d: 20 for d in range(1000, 1010)} | {1365: 1, 0: 3} | {d: 15 for d in range(1200, 1210)})
    assert stray_days(days) == {1365, 0}
    assert stray_days(Counter({1000: 1})) == set()
    assert stray_days(Counter({1000: 1, 1100: 1})) == set()  # two rows: no bulk to stray from
    assert stray_days(Counter({1000: 19, 1100: 1})) == set() and stray_days(Counter({1000: 20, 1100: 1})) == {1100}


def test_a_machine_clock_years_behind_rejects_no_real_row():
    from cdrnet.loader.strays import StrayFilter

    starts = pd.Series(pd.to_datetime(["2024-03-04 10:00", "2026-11-30 23:00", "2099-03-04 00:00",
                                       "1970-01-01 00:00"], utc=True))
    behind = StrayFilter(now=pd.Timestamp("2019-06-01", tz="UTC"))
    assert behind.absurd(starts).tolist() == [False, False, True, True]
    later = StrayFilter(now=pd.Timestamp("2031-01-01", tz="UTC"))
    assert later.absurd(starts).tolist() == [False, False, True, True]
