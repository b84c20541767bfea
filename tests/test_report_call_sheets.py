"""``cdrnet report`` carries the sections ``summary`` and ``contacts MSISDN`` show: Operators,
No records, IMEI-IMSI periods for every case; Top 10 and Bottom 10 contacts and Night calls per
subscriber when the case holds call records. The workbook is read back and its cells checked
against the hand-made call case (tests/call_case.py), whose figures are counted by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from cdrnet.synth.writers import render
from cdrnet.viz.workbook import SHEETS
from tests.call_case import A, B, C, D, write_contact_case
from tests.conftest import make_sessions, run_cli

EMPTY_EXPORT = ("BHARTI AIRTEL LTD\n\nPan India\n\n"
                "CDR OF MSISDN : 9800000009 from 14-Mar-2026 00:00:00 to 15-Mar-2026 23:59:59\n\nNo Records Found\n")


def rows(wb, name: str) -> list[tuple]:
    return list(wb[name].iter_rows(values_only=True))


@pytest.fixture
def report(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """A and B: IPDR sessions and their CDRs (A Airtel, B Jio); an Airtel export with no records."""
    folder = tmp_path / "case"
    folder.mkdir()
    paths = write_contact_case(folder)
    for who, seed in ((A, 1), (B, 2)):
        s = make_sessions(30, who, seed=seed, start="2026-03-14 00:00:00")
        (folder / f"ipdr_{who}.csv").write_text(render(s, "paper"))
        paths.append(folder / f"ipdr_{who}.csv")
    (folder / "empty.csv").write_text(EMPTY_EXPORT)
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", *map(str, paths), str(folder / "empty.csv"))
    assert code == 0, err
    code, out, err = run_cli(capsys, "-w", str(ws), "report", "--xlsx", str(tmp_path / "r.xlsx"))
    assert code == 0, err
    return load_workbook(tmp_path / "r.xlsx"), folder


def test_the_workbook_carries_the_summary_and_contacts_sections(report):
    wb, folder = report
    assert wb.sheetnames == ["Summary", "Dumps", "Operators", "No records", "Subscribers", "Links",
                             "Direct contacts", "Top 10 contacts", "Bottom 10 contacts", "Night calls",
                             "IMEI-IMSI periods", "Trends", "Evidence"]
    assert set(SHEETS) <= set(wb.sheetnames)
    ops = rows(wb, "Operators")
    assert ops[0] == ("operator", "layout", "dumps", "subscribers", "sessions")
    assert {r[1] for r in ops[1:]} == {"airtel_cdr", "jio_cdr", "paper", "empty-export"}
    empty = rows(wb, "No records")
    assert [r[:4] for r in empty] == [("file", "layout", "operator", "subscribers"),
                                      (str(folder / "empty.csv"), "empty-export", "not stated", "919800000009")]
    assert empty[1][4] == dt.datetime(2026, 3, 14, 0, 0)


def test_top_and_bottom_ten_as_contacts_prints_them(report):
    wb, _ = report
    top = rows(wb, "Top 10 contacts")
    assert top[0] == ("subscriber", "subscriber label", "rank", "contact", "contact label", "in case", "calls out",
                      "calls in", "SMS out", "SMS in", "call time (s)", "night calls", "first (Asia/Kolkata)",
                      "last (Asia/Kolkata)")
    got = [(r[0], r[2], r[3], r[5], *r[6:12]) for r in top[1:]]
    # By hand (tests/call_case.py): the call and SMS seen in both CDRs count once; B's view of A
    # includes the call only A's CDR holds. Most calls + SMS first, then call time.
    assert got == [(A, 1, B, "yes", 2, 0, 1, 0, 160, 1), (A, 2, C, "no", 0, 1, 0, 0, 120, 1),
                   (A, 3, D, "no", 1, 0, 0, 0, 30, 0),
                   (B, 1, A, "yes", 0, 2, 0, 1, 160, 1), (B, 2, C, "no", 1, 1, 0, 0, 60, 0)]
    assert top[1][12:] == (dt.datetime(2026, 3, 14, 10, 0), dt.datetime(2026, 3, 15, 22, 15))
    bottom = rows(wb, "Bottom 10 contacts")
    assert [(r[0], r[2], r[3]) for r in bottom[1:]] == [(A, 1, D), (A, 2, C), (A, 3, B), (B, 1, C), (B, 2, A)]


def test_night_calls_each_with_its_file_and_line(report):
    wb, folder = report
    night = rows(wb, "Night calls")
    assert night[0] == ("subscriber", "subscriber label", "contact", "contact label", "in case", "direction",
                        "start (Asia/Kolkata; night 22:00-06:00)", "duration (s)", "first cell", "file", "sha256",
                        "line")
    got = [(r[0], r[2], r[5], r[6], r[7], Path(r[9]).name, r[11]) for r in night[1:]]
    # a_airtel.csv: two preamble lines, the header on line 3, A's five rows on lines 4-8.
    assert got == [(A, C, "in", dt.datetime(2026, 3, 14, 23, 30), 120, "a_airtel.csv", 6),
                   (A, B, "out", dt.datetime(2026, 3, 15, 22, 15), 100, "a_airtel.csv", 8),
                   (B, A, "in", dt.datetime(2026, 3, 15, 22, 15), 100, "a_airtel.csv", 8)]
    assert all(len(r[10]) == 64 for r in night[1:])


def test_devices_and_sims_with_their_periods(report):
    wb, _ = report
    eq = rows(wb, "IMEI-IMSI periods")
    assert eq[0] == ("subscriber", "subscriber label", "kind", "identifier", "changed", "sessions", "calls",
                     "first seen (Asia/Kolkata)", "last seen (Asia/Kolkata)")
    for who in (A, B):
        kinds = {r[2] for r in eq[1:] if r[0] == who}
        assert kinds == {"IMEI", "IMSI"}, who
        seen = [r for r in eq[1:] if r[0] == who and r[2] == "IMSI"]
        assert sum(r[5] for r in seen) == 30 and all(isinstance(r[7], dt.datetime) for r in seen)
        assert all(r[4] == ("yes" if len(seen) > 1 else "no") for r in seen)


def test_a_case_without_call_records_has_no_contact_sheets(tmp_path, capsys):
    s = make_sessions(20, A, seed=3, start="2026-03-14 00:00:00")
    p = tmp_path / "a.csv"
    p.write_text(render(s, "paper"))
    ws = tmp_path / "ws"
    assert run_cli(capsys, "-w", str(ws), "ingest", str(p))[0] == 0
    code, _, err = run_cli(capsys, "-w", str(ws), "report", "--xlsx", str(tmp_path / "r.xlsx"))
    assert code == 0, err
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == list(SHEETS)
    assert rows(wb, "No records")[1:] == []
    assert pd.DataFrame(rows(wb, "Operators")[1:]).iloc[:, 1].tolist() == ["paper"]
