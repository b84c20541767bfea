"""Day-first or month-first in call records and tower dumps: decided per dump, never guessed.

An Airtel tower dump covers one cell for a day or a few hours, so every date in it can
read both ways (``07/05/2026``); re-saved through Excel on a US-locale machine its rows
come back month-first while the preamble keeps the text Airtel wrote. Such a dump is
refused with one line naming ``--date-order`` unless its stated period decides, or its preamble shows
no spreadsheet re-save (then the layout's own order holds); a
long dump is decided by its own dates (a day above 12).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.errors import DateOrderError
from cdrnet.synth.call_writers import render_calls, write_calls
from cdrnet.synth.calls import files_by_date_order
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace
from tests.conftest import ingest, run_cli

CELL = "405-52-8192-45011"
IST = "Asia/Kolkata"


def tower_calls(day: str, n: int = 4, hours: tuple[int, int] = (21, 23)) -> pd.DataFrame:
    """Generated calls at one cell on one evening (never real numbers)."""
    start = pd.Timestamp(day) + pd.Timedelta(hours=hours[0])
    step = (hours[1] - hours[0]) * 3600 // max(n, 1)
    return pd.DataFrame({
        "msisdn": [f"9198110000{i:02d}" for i in range(n)], "b_party": "919800000001",
        "direction": ["out", "in"] * (n // 2) + ["out"] * (n % 2), "type": "voice",
        "start": [start + pd.Timedelta(seconds=step * i + 7) for i in range(n)],
        "duration": [30 + i for i in range(n)], "cell": CELL,
    })


def tower_file(path: Path, calls: pd.DataFrame, excel: bool, period_text: str | None = None) -> Path:
    """A tower dump; ``period_text`` replaces the preamble's ``from … to …`` (Airtel writes it numeric)."""
    day = calls["start"].min().floor("D")
    text = render_calls(calls, "airtel_cdr", tower_cell=CELL, period=(day, day + pd.Timedelta(seconds=86399)),
                        excel=excel)
    if period_text is not None:
        text = text.replace(f"from '{day:%d-%m-%Y} 00:00:00' to '{day:%d-%m-%Y} 23:59:59'", period_text)
    path.write_text(text, encoding="utf-8")
    return path


def local_starts(ws: Workspace) -> list[str]:
    got = ws.calls().sort_values("source_line")["start_utc"].dt.tz_convert(IST)
    return got.dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def expected(calls: pd.DataFrame) -> list[str]:
    return calls["start"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def test_short_excel_resaved_tower_dump_is_refused_with_one_line(capsys, tmp_path):
    p = tower_file(tmp_path / "scene.csv", tower_calls("2026-05-07"), excel=True)
    assert "5/7/2026" in p.read_text()  # month first, as Excel saves it
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1
    assert [x for x in err.splitlines() if x.startswith("error:")] == [
        f"error: {p}: cannot tell day-first from month-first: every date reads both ways (e.g. 5/7/2026) and the "
        "stated period itself reads both ways (the file was re-saved through a spreadsheet: its preamble rows are "
        "padded with empty fields); re-run this file with --date-order dmy (if 5/7/2026 is 5 July 2026) or "
        "--date-order mdy (if it is 7 May 2026)"]
    assert [x for x in err.splitlines() if x.startswith("hint:")] == [
        "hint: check a few dates of the dump against its period, then re-run those files alone with --date-order "
        "dmy (day first, 03/04 = 3 April) or --date-order mdy (month first, 03/04 = 4 March): one order forced "
        "on a whole folder misreads the dumps written the other way"]
    assert "Traceback" not in err
    assert "0 dump(s) loaded (0 sessions, 0 rejected rows), 0 unchanged, 0 refused, 1 failed" in out


def test_short_tower_dump_loads_in_the_order_the_analyst_names(capsys, tmp_path):
    calls = tower_calls("2026-05-07")
    for excel, order in ((True, "mdy"), (False, "dmy")):
        p = tower_file(tmp_path / f"scene_{order}.csv", calls, excel=excel)
        ws = tmp_path / f"ws_{order}"
        code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", order, str(p))
        assert code == 0, err
        assert f"date order {order} (set by --date-order)" in out
        assert "tower dump of cell 405-52-8192-45011 (405-52-8192-45011): 4 number(s) seen there" in out
        w = Workspace(ws)
        assert local_starts(w) == expected(calls)  # 7 May, never 5 July
        rep = w.reports()[0]
        assert (rep.loaded, rep.rejected, rep.date_order, rep.date_order_source) == (4, {}, order, "option")
        # The numeric period reads both ways; the reading the rows fall in is kept (dates alone in
        # their own column, as call records write them, still read).
        assert (rep.period_source, rep.period_start_utc, rep.period_end_utc) == (
            "preamble", "2026-05-06T18:30:00+00:00", "2026-05-07T18:29:59+00:00")
        assert not rep.notes


def test_the_wrong_order_named_for_a_short_dump_is_the_analysts_call(ws, tmp_path):
    # Both readings are valid dates: nothing in the file can catch this, hence the refusal above.
    p = tower_file(tmp_path / "scene.csv", tower_calls("2026-05-07"), excel=True)
    ingest(ws, p, date_order="dmy")
    assert local_starts(ws)[0].startswith("2026-07-05")


def test_stated_period_with_a_text_month_decides_a_short_dump(ws, tmp_path):
    calls = tower_calls("2026-05-07")
    p = tower_file(tmp_path / "scene.csv", calls, excel=True,
                   period_text="from '07-May-2026 00:00:00' to '07-May-2026 23:59:59'")
    rep = ingest(ws, p).loaded[0]
    assert (rep.date_order, rep.date_order_source, rep.period_source) == ("mdy", "preamble", "preamble")
    assert (rep.loaded, rep.rejected) == (4, {})
    assert local_starts(ws) == expected(calls)


def test_long_month_first_tower_dump_is_decided_by_its_own_dates(ws, tmp_path):
    calls = pd.concat([tower_calls("2026-05-07"), tower_calls("2026-05-13")], ignore_index=True)
    day = calls["start"].min().floor("D")
    p = tmp_path / "two_days.csv"
    p.write_text(render_calls(calls, "airtel_cdr", tower_cell=CELL, excel=True,
                              period=(day, day + pd.Timedelta(days=7) - pd.Timedelta(seconds=1))))
    rep = ingest(ws, p).loaded[0]
    assert (rep.date_order, rep.date_order_source, rep.loaded, rep.rejected) == ("mdy", "data", 8, {})
    assert local_starts(ws) == expected(calls)


def test_excel_resaved_cdr_reads_month_first_and_keeps_its_padded_preamble(ws, tmp_path):
    calls = tower_calls("2026-05-13").assign(msisdn="919811000000")
    p = write_calls(calls, "airtel_cdr", tmp_path / "cdr.csv", excel=True)
    lines = p.read_text().splitlines()
    assert lines[0] == "BHARTI AIRTEL LIMITED" + "," * 25 and lines[3].split(",")[6] == "5/13/2026"
    rep = ingest(ws, p).loaded[0]
    assert (rep.layout, rep.kind, rep.loaded, rep.nondata, rep.rejected) == ("airtel_cdr", "calls", 4, 3, {})
    assert (rep.date_order, rep.date_order_source) == ("mdy", "data")
    assert local_starts(ws) == expected(calls)


def test_empty_tower_dump_is_accounted_not_refused(capsys, tmp_path):
    p = tmp_path / "quiet.csv"
    p.write_text(render_calls(tower_calls("2026-05-07").iloc[:0], "airtel_cdr", tower_cell=CELL, excel=True,
                              period=(pd.Timestamp("2026-05-07"), pd.Timestamp("2026-05-07 23:59:59"))))
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 0, err
    rep = Workspace(tmp_path / "ws").reports()[0]
    assert (rep.layout, rep.loaded, rep.nondata, rep.lines_read, rep.tower_cell) == ("empty-export", 0, 3, 3, CELL)


# ---------------------------------------------------------------- property: never a silent wrong month

@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day=st.dates(min_value=pd.Timestamp("2020-01-01").date(), max_value=pd.Timestamp("2026-10-01").date()),
       days=st.integers(min_value=1, max_value=20), n=st.integers(min_value=1, max_value=6),
       excel=st.booleans(), period=st.sampled_from(["numeric", "text", "none"]))
def test_tower_dump_dates_are_right_or_refused(day, days, n, excel, period):
    calls = pd.concat([tower_calls(str(pd.Timestamp(day) + pd.Timedelta(days=k)), n) for k in
                       sorted({0, days - 1})], ignore_index=True)
    lo = calls["start"].min().floor("D")
    hi = calls["start"].max().floor("D") + pd.Timedelta(seconds=86399)
    text = render_calls(calls, "airtel_cdr", tower_cell=CELL, period=(lo, hi), excel=excel)
    stated = f"from '{lo:%d-%m-%Y} 00:00:00' to '{hi:%d-%m-%Y} 23:59:59'"
    if period == "text":
        text = text.replace(stated, f"from '{lo:%d-%b-%Y} 00:00:00' to '{hi:%d-%b-%Y} 23:59:59'")
    elif period == "none":
        text = text.replace(f" {stated}", "")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "tower.csv"
        p.write_text(text, encoding="utf-8")
        ws = Workspace(Path(tmp) / "ws").create()
        res = ingest(ws, p)
        if res.failed:
            assert isinstance(res.failed[0][1], DateOrderError)
            # Refused only when every date reads both ways and no text-month period tells them
            # apart (a 05/05 date reads the same both ways and tells nothing either).
            assert all(t.day <= 12 for t in calls["start"]), "a dump with a day above 12 was refused"
            assert period != "text" or all(t.day == t.month for t in calls["start"])
            return
        rep = res.loaded[0]
        assert rep.rejected == {} and rep.loaded == len(calls)
        assert local_starts(ws) == expected(calls)  # right, or refused above: never a wrong month
        assert rep.date_order in ("", "mdy" if excel else "dmy")


def test_simulated_case_holds_every_tower_shape_and_loads_in_each_files_order(tmp_path):
    sc = build_scenario("realistic_calls", subscribers=16, days=5, seed=3)
    summary = simulate(sc, tmp_path / "case")
    calls = summary["call_records"]
    assert len(calls["tower_dumps"]) == 5 and len(calls["empty_tower_dumps"]) == 1
    excel_towers = [f for f in calls["month_first"] if "tower_" in f]
    assert len(excel_towers) == 1
    head = (tmp_path / "case" / excel_towers[0]).read_text().splitlines()
    assert head[0].endswith(",,,,") and head[3].split(",")[6].startswith("7/")  # comma-padded, month first
    ws = Workspace(tmp_path / "ws").create()
    res = ingest(ws, *[Path(f) for f in [str(tmp_path / "case" / excel_towers[0])]])
    assert isinstance(res.failed[0][1], DateOrderError)  # short and every date reads both ways: refused
    orders = files_by_date_order(summary, tmp_path / "case")
    for order, files in orders.items():
        res = ingest(ws, *[Path(f) for f in files], date_order=order)
        assert not res.failed and all(r.rejected == {} for r in res.loaded)
    got = ws.calls()["start_utc"].dt.tz_convert(IST)
    first = pd.Timestamp(sc.start_date)
    assert got.min() >= first.tz_localize(IST) - pd.Timedelta(hours=8)  # calls start from 01:00 the day before
    assert got.max() < (first + pd.Timedelta(days=sc.days)).tz_localize(IST)
    assert json.loads((tmp_path / "case" / "scenario.json").read_text())["call_records"]["month_first"]


def test_one_ambiguous_tower_dump_does_not_stop_the_others(capsys, tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    tower_file(folder / "scene.csv", tower_calls("2026-05-07"), excel=True)  # refused
    tower_file(folder / "border.csv", tower_calls("2026-05-14"), excel=True)  # decided by its dates
    write_calls(tower_calls("2026-05-13").assign(msisdn="919811000000"), "airtel_cdr", folder / "cdr.csv")
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(folder))
    assert code == 1
    assert "2 dump(s) loaded (0 sessions, 8 call events, 0 rejected rows), 0 unchanged, 0 refused, 1 failed" in out
    assert [x for x in err.splitlines() if x.startswith("error:")] == [
        f"error: {folder / 'scene.csv'}: cannot tell day-first from month-first: every date reads both ways "
        "(e.g. 5/7/2026) and the stated period itself reads both ways (the file was re-saved through a "
        "spreadsheet: its preamble rows are padded with empty fields); re-run this file with --date-order dmy "
        "(if 5/7/2026 is 5 July 2026) or --date-order mdy (if it is 7 May 2026)"]


# The shipped samples beside the repository (../shared, as CI has it).
SAMPLE_CDR = Path(__file__).resolve().parent / "samples" / "cdr_airtel.csv"


def test_a_dump_no_spreadsheet_touched_reads_in_its_layouts_order(capsys, tmp_path):
    # Every date reads both ways and so does the stated period, but the preamble is as Airtel
    # wrote it (no comma padding): no re-save turned the dates around, Airtel writes day first.
    p = tower_file(tmp_path / "scene.csv", tower_calls("2026-05-07"), excel=False)
    assert "07/05/2026" in p.read_text() and not p.read_text().splitlines()[0].endswith(",,")
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 0, err
    assert "date order dmy (the layout's own: no sign of a spreadsheet re-save)" in out
    w = Workspace(tmp_path / "ws")
    assert local_starts(w) == expected(tower_calls("2026-05-07"))
    rep = w.reports()[0]
    assert (rep.date_order, rep.date_order_source) == ("dmy", "layout")
    # The period reads both ways too; read in the rows' order, as the same export wrote both.
    assert (rep.period_source, rep.period_start_utc, rep.period_end_utc) == (
        "preamble", "2026-05-06T18:30:00+00:00", "2026-05-07T18:29:59+00:00")
    assert not rep.notes


def test_the_shipped_airtel_cdr_sample_ingests_without_an_option(capsys, tmp_path):
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(SAMPLE_CDR))
    assert code == 0, err
    assert "lines 15 = loaded 12 + rejected 0 + non-data 3" in out
    assert "date order dmy (the layout's own: no sign of a spreadsheet re-save)" in out
    assert "period 2026-03-02 00:00 .. 2026-03-03 23:59:59 Asia/Kolkata (stated in preamble)" in out
