"""Issue 15, the case at a glance and one network everywhere: ``summary`` (screen and printable page),
``report`` (the Excel workbook), ``--labels`` beside numbers, and ``map``/``evidence``/``summary``/
``report`` drawing the network of the latest ``link`` run (or saying they re-link, and with what).
Exit codes and exact lines; the workbook is opened and its cells checked."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from cdrnet.analysis.cousage import LinkParams
from cdrnet.synth.writers import render
from cdrnet.viz.workbook import SHEETS
from cdrnet.workspace import Workspace
from tests.conftest import make_sessions, run_cli

A, B, C, D = "919876543210", "919812345678", "919800000003", "919800000004"
HOSTILE = "=HYPERLINK(\"http://x\",\"<script>alert(1)</script>\")"
RUN_LINE = re.compile(r"network: the last link run \(\d{4}-\d\d-\d\d \d\d:\d\d Asia/Kolkata; (.*)\)")
RELINK_DEFAULTS = ("network: re-linked now with default parameters: window 180s (start), episode gap 180s, FDR 0.05 "
                   "(no link run yet; nothing stored, 'cdrnet link' stores)")
EMPTY_EXPORT = ("BHARTI AIRTEL LTD\n\nPan India\n\n"
                "CDR OF MSISDN : 9800000009 from 18-Apr-2023 00:00:00 to 19-Apr-2023 23:59:59\n\nNo Records Found\n")


def case_files(root: Path, linked: bool = True) -> list[Path]:
    """Three days; B mirrors A 20 s later (a link) unless ``linked`` is False; C independent; one
    Airtel export with no records (subscriber 919800000009)."""
    a = pd.concat([make_sessions(40, A, seed=s, start=f"2023-04-{17 + s} 00:00:00") for s in range(3)])
    if linked:
        b = a.assign(msisdn=B, start=a["start"] + pd.Timedelta(seconds=20), end=a["end"] + pd.Timedelta(seconds=20))
    else:
        b = pd.concat([make_sessions(40, B, seed=20 + s, start=f"2023-04-{17 + s} 00:00:00") for s in range(3)])
    c = pd.concat([make_sessions(40, C, seed=10 + s, start=f"2023-04-{17 + s} 00:00:00") for s in range(3)])
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, f in (("a", a), ("b", b), ("c", c)):
        paths.append(root / f"{n}.csv")
        paths[-1].write_text(render(f.reset_index(drop=True), "paper"))
    paths.append(root / "empty.csv")
    paths[-1].write_text(EMPTY_EXPORT)
    return paths


def _case(root: Path, capsys: pytest.CaptureFixture[str], linked: bool = True) -> Path:
    ws = root / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", *map(str, case_files(root, linked)))
    assert code == 0, err
    return ws


@pytest.fixture
def case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    return _case(tmp_path, capsys)


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    p = tmp_path / "names.csv"
    with p.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["msisdn", "label"], ["+91 98765 43210", "Ravi <b>K</b>"], [f"0{B[2:]}", HOSTILE],
                                  ["not-a-number", "X"], ["919811111111", "Nobody"]])
    return p


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if not line.startswith("store: ")]


# --- one network everywhere ---------------------------------------------------------------------

def test_map_summary_and_evidence_draw_the_last_link_run(case, capsys, tmp_path):
    code, out, err = run_cli(capsys, "-w", str(case), "map")
    assert code == 0, err
    assert _lines(out) == [RELINK_DEFAULTS, f"written {case / 'map.html'}"]

    code, out, err = run_cli(capsys, "-w", str(case), "link", "--window", "120")
    assert code == 0, err
    run = "window 120s (start), episode gap 120s, FDR 0.05"
    for cmd in (["map"], ["summary"], ["report"], ["evidence", A, B]):
        code, out, err = run_cli(capsys, "-w", str(case), *cmd)
        assert code == 0, err
        assert RUN_LINE.fullmatch(next(x for x in _lines(out) if x.startswith("network: "))).group(1) == run, cmd
    assert "network: the last link run" in (case / "map.html").read_text()
    assert "window 120s (start)" in (case / "map.html").read_text()

    code, out, err = run_cli(capsys, "-w", str(case), "map", "--window", "60", "--out", str(tmp_path / "m.html"))
    assert code == 0, err
    assert re.fullmatch(r"network: re-linked now with window 60s \(start\), episode gap 60s, FDR 0\.05 \(options "
                        r"differ from the last link run \(\d{4}-\d\d-\d\d \d\d:\d\d Asia/Kolkata\): window_s; "
                        r"nothing stored, 'cdrnet link' stores\)", _lines(out)[0])
    # The same values as the run are the run: no re-link.
    code, out, err = run_cli(capsys, "-w", str(case), "map", "--window", "120", "--out", str(tmp_path / "m.html"))
    assert code == 0 and RUN_LINE.fullmatch(_lines(out)[0]), err


def test_evidence_takes_q_and_flag_from_the_run_not_from_the_pair_alone(case, capsys):
    assert run_cli(capsys, "-w", str(case), "link")[0] == 0
    edges = pd.read_csv(case / "edges.csv", dtype={"a": str, "b": str})
    row = edges[(edges["a"] == B) & (edges["b"] == A)].iloc[0]
    code, out, err = run_cli(capsys, "-w", str(case), "evidence", A, B)
    assert code == 0, err
    assert f"a link (q = {row['q_value']:.3g}, FDR 0.05, link = True)" in out
    page = (case / "evidence" / f"evidence_{B}_{A}.html").read_text()
    assert f"<h1>Evidence for the link {B} -- {A}</h1>" in page and "network: the last link run (" in page


def test_link_parameters_survive_the_store(tmp_path):
    p = LinkParams(window_s=120, apps=["Meta", "Telegram"], since=pd.Timestamp("2024-01-01", tz="UTC"), fdr=0.01,
                   min_score=3.0, calls=False)
    assert LinkParams.from_dict(p.to_dict()) == p


@given(st.integers(0, 86400), st.one_of(st.none(), st.integers(0, 86400)), st.floats(0.001, 1),
       st.integers(0, 9), st.booleans())
# No deadline: a loaded CI machine stalling one example past 200 ms is not a failure of the round trip.
@settings(deadline=None)
def test_link_parameters_round_trip(window, gap, fdr, min_events, colocation):
    p = LinkParams(window_s=window, burst_gap_s=gap, fdr=fdr, min_events=min_events, colocation=colocation)
    back = LinkParams.from_dict(p.to_dict())
    assert back.gap == p.gap and back.window_s == window and back.fdr == fdr and back.colocation == colocation


# --- summary ------------------------------------------------------------------------------------

def test_summary_on_screen_and_as_a_printable_page(case, capsys, labels):
    assert run_cli(capsys, "-w", str(case), "link")[0] == 0
    code, out, err = run_cli(capsys, "-w", str(case), "summary", "--labels", str(labels))
    assert code == 0, err
    lines = _lines(out)
    assert lines[:7] == [
        f"labels: {labels} line 4: not a phone number (invalid_msisdn) ('not-a-number,X'), ignored",
        f"labels: 1 number(s) in {labels} are not in the case: 919811111111",
        f"labels: 3 number(s) labelled from {labels}",
        f"case ws (workspace {case.resolve()}); times in Asia/Kolkata",
        "4 subscriber(s), 4 dump(s), 360 session(s); 2023-04-17 00:03 .. 2023-04-19 23:50",
        lines[5], "3 pair(s) with any co-usage; 1 link(s) at FDR 0.05"]
    assert RUN_LINE.fullmatch(lines[5])
    assert "Exports with no records" in lines and "empty.csv" in out.split("Exports with no records")[1]
    top = out.split("Strongest links (top 1 of 1)\n")[1].splitlines()
    assert top[1].startswith(f"{B} ({HOSTILE})")
    assert f"{A} (Ravi <b>K</b>)" in top[1]
    assert lines[-1] == f"written {case / 'summary.html'}"
    page = (case / "summary.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "Ravi &lt;b&gt;K&lt;/b&gt;" in page and "&lt;script&gt;" in page
    assert 'content="default-src \'none\'; style-src \'unsafe-inline\'"' in page
    assert not re.search(r"(src|href)=\"?https?:", page)
    assert "every time on this page is in Asia/Kolkata" in page and "<h1>Case ws at a glance</h1>" in page


def test_summary_of_a_case_with_no_links_says_so_and_exits_0(tmp_path, capsys):
    ws = _case(tmp_path, capsys, linked=False)
    code, out, err = run_cli(capsys, "-w", str(ws), "summary", "--out", str(tmp_path / "s.html"))
    assert code == 0, err
    lines = _lines(out)
    assert lines[2] == RELINK_DEFAULTS
    assert re.fullmatch(r"no links: no pair co-uses beyond chance at FDR 0\.05 \(\d+ pair\(s\) with any co-usage\)",
                        lines[3])
    assert "Strongest links" not in out and lines[-1] == f"written {tmp_path / 's.html'}"
    code, out, err = run_cli(capsys, "-w", str(ws), "report", "--xlsx", str(tmp_path / "r.xlsx"))
    assert code == 0, err
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb["Evidence"].max_row == 1 and [c.value for c in wb["Evidence"][1]][:3] == ["a", "b", "evidence"]


def test_an_unknown_zone_is_one_clear_line(case, capsys):
    code, out, err = run_cli(capsys, "-w", str(case), "summary", "--tz", "Mars/Olympus")
    assert code == 1
    assert err.splitlines() == ["error: unknown time zone 'Mars/Olympus'",
                                "hint: use an IANA name such as Asia/Kolkata or UTC"]


# --- report --xlsx ------------------------------------------------------------------------------

def test_report_workbook_sheets_headers_types_and_evidence(case, capsys, labels, tmp_path):
    assert run_cli(capsys, "-w", str(case), "link")[0] == 0
    target = tmp_path / "out" / "case.xlsx"
    code, out, err = run_cli(capsys, "-w", str(case), "report", "--xlsx", str(target), "--labels", str(labels))
    assert code == 0, err
    assert _lines(out)[-1] == f"written {target}"
    wb = load_workbook(target)
    assert wb.sheetnames == list(SHEETS)
    for ws in wb:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref.startswith("A1:"), ws.title
        assert all(c.font.b for c in ws[1] if c.value is not None), ws.title
    tz = "Asia/Kolkata"

    def rows(name: str) -> list[dict]:
        sheet = wb[name]
        head = [c.value for c in sheet[1]]
        return [dict(zip(head, r, strict=True)) for r in sheet.iter_rows(min_row=2)]

    summary = {r["item"].value: r["value"].value for r in rows("Summary")}
    assert summary["zone of every time in this workbook"] == tz and summary["links"].endswith("1 link(s) at FDR 0.05")
    assert RUN_LINE.fullmatch(summary["network"])
    assert summary["parameter: min_score"] == "not set" and summary["parameter: since"] == "not set"
    assert summary["parameter: fdr"] == 0.05

    dumps = rows("Dumps")
    assert [c.value for c in wb["Dumps"][1]][5:7] == [f"period start ({tz})", f"period end ({tz})"]
    empty = next(r for r in dumps if r["file"].value.endswith("empty.csv"))
    assert empty["period start (Asia/Kolkata)"].is_date
    assert empty["period start (Asia/Kolkata)"].value == pd.Timestamp("2023-04-18 00:00:00").to_pydatetime()
    assert empty["no records"].value is True and empty["subscribers"].value == "919800000009"
    assert empty["subscribers"].data_type == "s"

    subs = {r["msisdn"].value: r for r in rows("Subscribers")}
    assert set(subs) == {A, B, C, "919800000009"}
    ra = subs[A]
    assert ra["msisdn"].data_type == "s" and ra["label"].value == "Ravi <b>K</b>"
    imei = Workspace(case).sessions(msisdns=[A])["imei"].iloc[0]
    assert ra["IMEIs"].value == imei and len(imei) >= 14 and ra["IMEIs"].data_type == "s"
    assert ra["IMSIs"].value == "404701234567890" and ra["IMSIs"].data_type == "s"
    first = ra[f"first seen ({tz})"]
    out_first = f"{make_sessions(40, A, seed=0, start='2023-04-17 00:00:00')['start'].min():%Y-%m-%d %H:%M}"
    assert first.is_date and first.number_format == "yyyy-mm-dd hh:mm:ss"
    assert first.value.strftime("%Y-%m-%d %H:%M") == out_first
    assert ra["sessions"].value == 120 and ra["top applications (sessions, % of the subscriber's)"].value

    link = next(r for r in rows("Links") if r["link"].value)
    assert (link["a"].value, link["b"].value) == (B, A)
    # A label that looks like a formula is text, never a formula that Excel would run.
    assert link["a label"].value == HOSTILE and link["a label"].data_type == "s"
    assert link["b label"].value == "Ravi <b>K</b>" and link[f"first ({tz})"].is_date
    n = link["supporting session pairs (Evidence sheet)"].value
    evidence = rows("Evidence")
    assert n == len(evidence) > 0
    sha = {r["sha256"].value for r in dumps}
    for r in evidence:
        assert r["a sha256"].value in sha and r["b sha256"].value in sha and r["a sha256"].data_type == "s"
        assert isinstance(r["a line"].value, int) and r["a line"].value >= 2 and r[f"a start ({tz})"].is_date
    trends = rows("Trends")
    assert trends and {r["number"].value for r in trends} <= {A, B, C}
    assert [c.value for c in wb["Trends"][1]][3:5] == [f"date ({tz})", "00-03"]


def test_report_writes_under_the_workspace_by_default(case, capsys):
    code, out, err = run_cli(capsys, "-w", str(case), "report")
    assert code == 0, err
    assert _lines(out)[2] == RELINK_DEFAULTS and _lines(out)[-1] == f"written {case / 'report.xlsx'}"


# --- labels -------------------------------------------------------------------------------------

def test_labels_beside_numbers_in_map_and_profile(case, capsys, labels, tmp_path):
    code, out, err = run_cli(capsys, "-w", str(case), "profile", A, "--labels", str(labels), "--out",
                             str(tmp_path / "p"))
    assert code == 0, err
    assert _lines(out)[3] == f"Profile of {A} (Ravi <b>K</b>)"
    code, out, err = run_cli(capsys, "-w", str(case), "map", "--labels", str(labels))
    assert code == 0, err
    page = (case / "map.html").read_text(encoding="utf-8")
    assert f"{A} (Ravi \\u003cb\\u003eK\\u003c/b\\u003e)" in page and "<b>K" not in page
    code, out, err = run_cli(capsys, "-w", str(case), "map", "--labels", str(labels), "--pseudonymize")
    assert code == 1
    assert err.splitlines() == ["error: --labels and --pseudonymize together would print names beside the tokens",
                                "hint: use one of them"]
