"""Direct contacts, common contacts, contact chains and tower intersections (workspace and CLI)."""

from __future__ import annotations

import pandas as pd
import pytest

from cdrnet.analysis.contacts import aggregate, distinct_calls
from cdrnet.api import Case
from tests.call_case import (
    EXPECTED_CALLED,
    A,
    B,
    C,
    D,
    X,
    Y,
    Z,
    called_tuples,
    write_contact_case,
    write_tower_case,
)
from tests.conftest import ingest, run_cli


@pytest.fixture
def contact_ws(ws, tmp_path):
    res = ingest(ws, *write_contact_case(tmp_path))
    assert [r.loaded for r in res.loaded] == [5, 4] and not res.failed
    return ws


def test_contact_aggregates_by_hand(contact_ws):
    assert called_tuples(contact_ws.called()) == EXPECTED_CALLED
    # Nine rows, two of them the other end of a call or SMS already counted.
    assert len(contact_ws.calls()) == 9 and len(distinct_calls(contact_ws.calls())) == 7


def test_two_real_calls_seconds_apart_stay_two():
    t = pd.Timestamp("2026-03-14 10:00:00", tz="UTC")
    events = pd.DataFrame({"msisdn": A, "caller": A, "callee": B, "type": "voice", "duration_s": [10, 10],
                           "start_utc": [t, t + pd.Timedelta(seconds=3)], "dump_sha256": "x", "source_line": [1, 2]})
    assert aggregate(events)["calls"].tolist() == [2]


def test_contacts_of_one_number(contact_ws):
    case = Case(store=contact_ws)
    c = case.contacts(A)
    t = c.table
    assert t["contact"].tolist() == [B, C, D]
    assert t[["calls_out", "calls_in", "sms_out", "sms_in", "seconds", "night_calls"]].values.tolist() == [
        [2, 0, 1, 0, 160, 1], [0, 1, 0, 0, 120, 1], [1, 0, 0, 0, 30, 0]]
    assert c.bottom["contact"].tolist() == [D, C, B]
    assert case.case_numbers() == {A, B}


def test_common_contacts_and_chains(contact_ws):
    case = Case(store=contact_ws)
    common = case.common([A, B])
    assert common.values.tolist() == [[C, 1, 2, 3]]
    assert list(common.columns) == ["contact", A, B, "total"]
    assert case.common([A, B, D]).empty
    assert case.chains(D, B) == [[D, A, B]]
    assert case.chains(D, C) == [[D, A, C]]
    assert case.chains(D, C, max_hops=1) == []


def test_contacts_cli(contact_ws, tmp_path, capsys):
    code, out, err = run_cli(capsys, "-w", str(contact_ws.root), "contacts", A, "--out", str(tmp_path / "o"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == f"{A}: 3 contact(s), 4 calls, 1 SMS, 2 night calls (22:00-06:00); times in Asia/Kolkata"
    assert lines[2] == "first contact 2026-03-14 10:00, last contact 2026-03-15 22:15"
    pairs = pd.read_csv(tmp_path / "o" / f"contacts_{A}_pairs.csv", dtype={"a": str, "b": str})
    assert list(pairs.columns) == ["a", "b", "calls", "sms", "seconds", "first", "last"]
    assert pairs.values.tolist()[0] == [A, B, 2, 1, 160, "2026-03-14T10:00:00+05:30", "2026-03-15T22:15:00+05:30"]
    per = pd.read_csv(tmp_path / "o" / f"contacts_{A}.csv", dtype={"contact": str})
    assert per["in_case"].tolist() == [True, False, False]
    code, out, _ = run_cli(capsys, "-w", str(contact_ws.root), "contacts")
    assert code == 0 and "5 caller -> callee pair(s), 6 calls, 1 SMS (times in Asia/Kolkata)" in out
    whole = pd.read_csv(contact_ws.root / "contacts" / "contacts.csv", dtype={"a": str, "b": str})
    assert len(whole) == 5 and whole["calls"].sum() == 6
    code, out, _ = run_cli(capsys, "-w", str(contact_ws.root), "common", A, B)
    assert code == 0 and out.splitlines()[1] == f"1 common contact(s) of {A}, {B} (calls + SMS with each)"
    code, out, _ = run_cli(capsys, "-w", str(contact_ws.root), "chain", D, B)
    assert code == 0
    assert out.splitlines()[1:] == ["1 shortest chain(s) of 2 direct contact(s) (* = outside the case):",
                                    f"  {D}* -- {A} -- {B}"]


def test_contacts_cli_errors(ws, tmp_path, capsys):
    code, _, err = run_cli(capsys, "-w", str(ws.root), "contacts", A)
    assert code == 1
    assert err.splitlines() == ["error: the case holds no call records (voice/SMS CDRs or tower dumps)",
                                "hint: ingest the CDRs first: cdrnet ingest FILE"]
    code, _, err = run_cli(capsys, "-w", str(ws.root), "contacts", A, "--night", "22")
    assert code == 1 and err.splitlines()[0] == "error: --night '22' must be two hours FROM-TO, e.g. 22-6"
    code, _, err = run_cli(capsys, "-w", str(ws.root), "common", A)
    assert code == 1


def test_imei_and_sim_changes_from_call_records(ws, tmp_path):
    from tests.test_call_layouts import make_calls

    calls = make_calls(6)
    calls.loc[3:, "imei"] = "356789012345678"
    from cdrnet.synth.call_writers import write_calls

    ingest(ws, write_calls(calls, "airtel_cdr", tmp_path / "a.csv"))
    devices, sims = Case(store=ws).equipment("919876543210")
    assert devices["imei"].tolist() == ["359193622303069", "356789012345678"]
    assert devices["calls"].tolist() == [3, 3] and devices["sessions"].tolist() == [0, 0]
    assert len(sims) == 1


@pytest.fixture
def tower_ws(ws, tmp_path):
    res = ingest(ws, *write_tower_case(tmp_path))
    assert [r.tower_numbers for r in res.loaded] == [3, 2, 2]
    return ws


def test_numbers_in_k_of_n_tower_dumps(tower_ws):
    case = Case(store=tower_ws)
    every = case.towers()
    assert every.table["msisdn"].tolist() == [X]
    two = case.towers(["scene.csv", "hideout.csv", "border.csv"], k=2)
    assert two.table[["msisdn", "places"]].values.tolist() == [[X, 3], [Y, 2], [Z, 2]]
    assert two.table.loc[1, "405-52-8192-1"] == "2026-03-14 22:30:00"
    assert two.table.loc[1, "405-52-8192-3"] == ""
    pair = case.towers(["scene.csv", "border.csv"])
    assert pair.table["msisdn"].tolist() == [X, Z]


def test_who_was_at_two_places_at_the_right_times(tower_ws):
    case = Case(store=tower_ws)
    res = case.towers(["scene.csv@2026-03-14T21:00/2026-03-14T22:00", "hideout.csv@2026-03-15T00:00/2026-03-15T02:00"])
    assert res.table["msisdn"].tolist() == [X]  # Y was at both places, but not at those times
    wide = case.towers(["scene.csv", "hideout.csv"])
    assert wide.table["msisdn"].tolist() == [X, Y]


def test_towers_cli(tower_ws, tmp_path, capsys):
    code, out, err = run_cli(capsys, "-w", str(tower_ws.root), "towers", "scene.csv", "hideout.csv", "border.csv",
                             "-k", "2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == "3 number(s) seen in at least 2 of 3 tower dump(s) (times in Asia/Kolkata):"
    assert lines[2] == "  place 1: cell 405-52-8192-1 (scene.csv): 3 number(s) there"
    got = pd.read_csv(tower_ws.root / "contacts" / "towers.csv", dtype=str)
    assert got["msisdn"].tolist() == [X, Y, Z] and got["in_case"].tolist() == ["no"] * 3
    code, _, err = run_cli(capsys, "-w", str(tower_ws.root), "towers", "nowhere.csv")
    assert code == 1
    assert err.splitlines()[0] == ("error: 'nowhere.csv' names no tower dump of the case (tower dumps: border.csv, "
                                   "hideout.csv, scene.csv)")
    code, _, err = run_cli(capsys, "-w", str(tower_ws.root), "towers", "-k", "4")
    assert code == 1 and err.splitlines()[0] == "error: -k 4 must be between 1 and the number of tower dumps (3)"


def test_contact_csvs_are_spreadsheet_safe(ws, tmp_path, capsys):
    from cdrnet.synth.call_writers import write_calls
    from tests.test_call_layouts import make_calls

    calls = make_calls(4)
    calls.loc[0, "b_party"] = "=HYPERLINK(x)"  # a hostile "sender id" in the other party's column
    ingest(ws, write_calls(calls, "airtel_cdr", tmp_path / "a.csv"))
    code, _, err = run_cli(capsys, "-w", str(ws.root), "contacts", "919876543210", "--out", str(tmp_path / "o"))
    assert code == 0, err
    per = (tmp_path / "o" / "contacts_919876543210.csv").read_text()
    assert "'=HYPERLINK(x)" in per and '"=HYPERLINK' not in per.replace("\"'=", "")


def test_numbers_without_call_records_are_refused_not_reported_as_no_chain(contact_ws, capsys):
    root = str(contact_ws.root)
    for args in (("chain", A, "919899999999"), ("common", A, "+91 98999 99999")):
        code, out, err = run_cli(capsys, "-w", root, *args)
        assert code == 1
        assert err.splitlines()[-2:] == ["error: no calls or SMS of 919899999999 in the call records",
                                         "hint: check the number, or run 'cdrnet dumps' to see what is loaded"]
    code, out, _ = run_cli(capsys, "-w", root, "chain", f"+91{D[2:]}", f"0{B[2:]}")  # as analysts type them
    assert code == 0 and out.splitlines()[-1] == f"  {D}* -- {A} -- {B}"


def test_contacts_and_towers_show_times_in_the_cases_zone(ws, tmp_path, capsys):
    res = ingest(ws, *write_contact_case(tmp_path), tz="Europe/London")
    assert not res.failed
    code, out, err = run_cli(capsys, "-w", str(ws.root), "contacts", A)
    assert code == 0, err
    assert out.splitlines()[1].endswith("times in Europe/London")
    assert out.splitlines()[2] == "first contact 2026-03-14 10:00, last contact 2026-03-15 22:15"
    pairs = pd.read_csv(ws.root / "contacts" / f"contacts_{A}_pairs.csv", dtype={"a": str, "b": str})
    assert pairs["first"].tolist()[0] == "2026-03-14T10:00:00+00:00"
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "contacts", A, "--tz", "Asia/Kolkata")
    assert code == 0 and out.splitlines()[2] == "first contact 2026-03-14 15:30, last contact 2026-03-16 03:45"
    code, _, err = run_cli(capsys, "-w", str(ws.root), "contacts", A, "--tz", "Mars/Olympus")
    assert code != 0 and err.splitlines()[0].startswith("error: ") and "Mars/Olympus" in err


def test_towers_say_which_place_nobody_was_at(tower_ws, tmp_path, capsys):
    from cdrnet.synth.call_writers import render_calls
    from tests.test_call_layouts import make_calls

    quiet = tmp_path / "quiet.csv"
    quiet.write_text(render_calls(make_calls(1).iloc[:0], "airtel_cdr", tower_cell="405-52-8192-9",
                                  period=(pd.Timestamp("2026-03-14"), pd.Timestamp("2026-03-14 23:59:59"))))
    assert ingest(tower_ws, quiet).loaded[0].layout == "empty-export"
    root = str(tower_ws.root)
    code, out, err = run_cli(capsys, "-w", root, "towers", "scene.csv", "quiet.csv", "-k", "1")
    assert code == 0, err
    assert out.splitlines()[2:4] == [
        "  place 1: cell 405-52-8192-1 (scene.csv): 3 number(s) there",
        "  place 2: cell 405-52-8192-9 (quiet.csv): nobody there (an empty export, or no call in the window)"]
    code, out, err = run_cli(capsys, "-w", root, "towers", "scene.csv@2026-03-14T23:00/2026-03-14T21:00")
    assert code == 1
    assert err.splitlines() == ["error: 'scene.csv@2026-03-14T23:00/2026-03-14T21:00': the window ends before it "
                                "starts", "hint: write DUMP@FROM/TO with FROM before TO"]


def test_pair_refuses_call_records_given_as_ipdr(tmp_path, capsys):
    from cdrnet.synth.call_writers import write_calls
    from tests.test_call_layouts import make_calls

    tower = write_calls(make_calls(4), "airtel_cdr", tmp_path / "tower.csv", tower_cell="405-52-8192-1")
    cdr = write_calls(make_calls(4, "919811111111"), "jio_cdr", tmp_path / "cdr.csv")
    code, out, err = run_cli(capsys, "pair", str(tower), str(cdr))
    assert code == 1
    assert err.splitlines() == [
        f"error: {tower}: voice/SMS call records (a CDR or a tower dump), not an IPDR dump",
        "hint: pair compares data sessions: give two IPDR dumps, or ingest call records and use 'cdrnet contacts', "
        "'common', 'chain' or 'towers'"]


def test_a_call_written_to_the_minute_still_counts_once():
    # A's CDR re-saved through Excel keeps 10:00 of a call B's switch wrote as 10:00:46.
    t = pd.Timestamp("2026-03-14 04:30:00", tz="UTC")
    events = pd.DataFrame({
        "msisdn": [A, B, A, A], "caller": A, "callee": B, "type": "voice", "duration_s": [60, 60, 30, 30],
        "start_utc": [t, t + pd.Timedelta(seconds=46), t + pd.Timedelta(minutes=5), t + pd.Timedelta(minutes=5)],
        "start_local": ["3/14/2026 10:00", "14/03/2026 10:00:46", "3/14/2026 10:05", "3/14/2026 10:05"],
        "dump_sha256": ["a", "b", "a", "a"], "source_line": [1, 1, 2, 3]})
    # Two calls at 10:05 in A's own CDR stay two (the same dump and side: not a repeat).
    assert aggregate(events)["calls"].tolist() == [3]
    seconds = events.assign(start_local=["14/03/2026 10:00:00", "14/03/2026 10:00:46", "x", "y"])
    assert aggregate(seconds)["calls"].tolist() == [4]  # written to the second: 46 s apart are two calls


def test_place_view_refuses_a_period_that_ends_before_it_starts(contact_ws, capsys):
    code, _, err = run_cli(capsys, "-w", str(contact_ws.root), "cells", "map", "--since", "2026-03-15",
                           "--until", "2026-03-14")
    assert code == 1
    assert err.splitlines() == ["error: --since 2026-03-15 is not before --until 2026-03-14",
                                "hint: give the start of the period with --since and its end with --until"]
