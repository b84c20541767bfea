"""One network: direct contacts beside inferred links (link, map, evaluate) and the simulator's call records."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from cdrnet.analysis.network import agreement, one_network
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.viz.netmap import MapOptions, write_map
from tests.conftest import SIM_ORDER, ingest, run_cli

A, B, C, D, X = "919800000001", "919800000002", "919800000003", "919800000004", "919800000009"
T = pd.Timestamp("2026-03-14 10:00", tz="UTC")


def _edges() -> pd.DataFrame:
    return pd.DataFrame({"a": [A, A, B], "b": [B, X, C], "score": [9.0, 7.0, 1.0], "q_value": [0.001, 0.01, 0.5],
                         "link": [True, True, False]})


def _called() -> pd.DataFrame:
    return pd.DataFrame({"a": [B, C, A], "b": [A, B, D], "calls": [2, 1, 5], "sms": [1, 0, 0],
                         "seconds": [100, 20, 300], "first_utc": T, "last_utc": T})


def test_one_network_kinds_by_hand():
    net = one_network(_edges(), _called(), among={A, B, C, X})
    assert net[["a", "b", "kind", "calls", "sms"]].values.tolist() == [
        [A, B, "both", 2, 1], [A, X, "inferred", 0, 0], [B, C, "direct", 1, 0]]  # A-D: D is outside the case
    assert agreement(_edges(), net[net["kind"] != "inferred"][["a", "b"]]) == {
        "links": 2, "direct_pairs": 2, "both": 1, "links_with_contact": 0.5, "contacts_linked": 0.5}


def test_map_draws_direct_contacts_dashed_and_marks_both(tmp_path):
    edges = _edges().assign(messaging_obs=5, messaging_exp=1.0, call_obs=0, coloc_obs=0, services="Meta",
                            first_utc="2026-03-14 10:00 UTC", last_utc="2026-03-15 10:00 UTC")
    net = one_network(edges, _called(), among={A, B, C, X})
    contacts = net[net["kind"] != "inferred"][["a", "b", "calls", "sms", "seconds"]]
    frame = pd.DataFrame({"msisdn": [A], "app": ["WhatsApp"], "imei": [""], "start_utc": [T]})
    page = write_map(edges, frame, tmp_path / "m.html", MapOptions(contacts=contacts)).read_text()
    drawn = json.loads(re.search(r"var cdrnetEdges = new vis.DataSet\((.*?)\);\n", page).group(1))
    kinds = sorted((e["from"], e["to"], e["kind"], "dashes" in e, e.get("label", "")) for e in drawn)
    assert kinds == [(A, B, "both", False, ""), (A, B, "direct_of_both", True, "both"), (A, X, "inferred", False, ""),
                     (B, C, "direct", True, "")]
    assert "direct contact (calls/SMS, dashed)" in page and 'labelled "both"' in page
    assert "3 inferred links" not in page and "2 inferred links, 2 direct contacts (1 both)" in page
    plain = write_map(edges, frame, tmp_path / "p.html", MapOptions()).read_text()
    drawn = json.loads(re.search(r"var cdrnetEdges = new vis.DataSet\((.*?)\);\n", plain).group(1))
    assert [e["kind"] for e in drawn] == ["inferred", "inferred"] and "direct contact (calls" not in plain


@pytest.fixture(scope="module")
def calls_case(tmp_path_factory):
    out = tmp_path_factory.mktemp("calls")
    sc = build_scenario("calls", subscribers=14, days=4, seed=5)
    summary = simulate(sc, out / "case")
    return out, summary


def test_simulator_writes_call_records_beside_identical_ipdrs(calls_case, tmp_path):
    out, summary = calls_case
    easy = simulate(build_scenario("easy", subscribers=14, days=4, seed=5), tmp_path / "easy")
    for name in easy["files"]:  # the IPDR dumps are the same bytes with call records on or off
        assert (out / "case" / name).read_bytes() == (tmp_path / "easy" / name).read_bytes()
    calls = summary["call_records"]
    assert len(calls["cdr_files"]) == 14 and len(calls["tower_dumps"]) == 3
    truth = pd.read_csv(out / "case" / "truth.csv", dtype=str)
    talking = pd.read_csv(out / "case" / "contacts_truth.csv", dtype=str)
    planted = set(zip(truth["a"], truth["b"], strict=True))
    assert set(zip(talking["a"], talking["b"], strict=True)) <= planted  # only planted pairs call each other
    assert calls["planted_pairs_never_calling"] >= 1 and calls["planted_pairs_calling"] == len(talking)
    assert "cdrs" not in json.loads((tmp_path / "easy" / "scenario.json").read_text())["scenario"]


def test_simulated_call_records_load_and_join_the_network(calls_case, ws, capsys):
    out, summary = calls_case
    res = ingest(ws, out / "case" / "dumps", date_order=SIM_ORDER)
    assert not res.failed and all(r.rejected == {} and r.accounted for r in res.loaded)
    calls = ws.calls()
    assert calls["msisdn"].nunique() >= 14
    case_numbers = {m for r in ws.reports() if not r.tower_cell for m in r.msisdns}
    assert (~calls["b_party"].isin(case_numbers)).sum() > 0  # everyone calls numbers outside the case
    positioned = calls[calls["layout"].isin(["airtel_cdr", "bsnl_cdr"])]
    assert len(positioned) and positioned["first_lat"].notna().all()  # cells have positions
    assert sum(1 for r in ws.reports() if r.tower_cell) == 3
    code, stdout, err = run_cli(capsys, "-w", str(ws.root), "link")
    assert code == 0, err
    line = next(x for x in stdout.splitlines() if x.startswith("one network: "))
    net = pd.read_csv(ws.root / "network.csv", dtype={"a": str, "b": str})
    kinds = net["kind"].value_counts()
    assert line.startswith(f"one network: {kinds.get('inferred', 0) + kinds.get('both', 0)} inferred link(s), "
                           f"{kinds.get('direct', 0) + kinds.get('both', 0)} direct contact pair(s)")
    talking = pd.read_csv(out / "case" / "contacts_truth.csv", dtype=str)
    assert set(zip(talking["a"], talking["b"], strict=True)) == set(
        zip(net.loc[net["kind"] != "inferred", "a"], net.loc[net["kind"] != "inferred", "b"], strict=True))
    code, stdout, err = run_cli(capsys, "-w", str(ws.root), "map")
    assert code == 0, err
    page = (ws.root / "map.html").read_text()
    drawn = json.loads(re.search(r"var cdrnetEdges = new vis.DataSet\((.*?)\);\n", page).group(1))
    dashed = {tuple(sorted((e["from"], e["to"]))) for e in drawn if e.get("dashes")}
    assert dashed == set(zip(net.loc[net["kind"] != "inferred", "a"], net.loc[net["kind"] != "inferred", "b"],
                             strict=True))
    # The map's Places tab: the simulated cells have positions, so the place view has cells to draw.
    places = json.loads(re.search(r"var cdrnetPlaceData = (.*?);\n", page).group(1))
    assert len(places["cells"]) > 0 and len(places["seen"]) > 0 and 'id="tab-places"' in page
    assert set(places["subscribers"]) <= {e["id"] for e in json.loads(
        re.search(r"var cdrnetNodes = new vis.DataSet\((.*?)\);\n", page).group(1))}
    # summary and report show the same one network (Case.contact_network), the pairs that are both marked.
    both = net[net["kind"] == "both"]
    code, stdout, err = run_cli(capsys, "-w", str(ws.root), "summary")
    assert code == 0, err
    assert line.split("; written")[0] in stdout
    assert (f"Direct contacts: calls and texts among the case's subscribers ({len(both)} also inferred links, "
            f"{(net['kind'] == 'direct').sum()} direct only; the first 10 of each)") in stdout
    marked = [x for x in stdout.splitlines() if x.lstrip().startswith("BOTH: link + calls/SMS")]
    assert len(marked) == min(len(both), 10)
    assert sum("BOTH: " in x and "call(s)" in x for x in stdout.splitlines()) == min(len(both), 10) or len(both) > 10
    page = (ws.root / "summary.html").read_text()
    assert "Direct contacts: calls and texts among the case" in page
    assert page.count("BOTH: link + calls/SMS") == len(marked)
    code, stdout, err = run_cli(capsys, "-w", str(ws.root), "report")
    assert code == 0, err
    from openpyxl import load_workbook

    wb = load_workbook(ws.root / "report.xlsx", read_only=True)
    assert wb.sheetnames == ["Summary", "Dumps", "Operators", "No records", "Subscribers", "Links", "Direct contacts",
                             "Top 10 contacts", "Bottom 10 contacts", "Night calls", "IMEI-IMSI periods", "Trends",
                             "Evidence"]
    rows = list(wb["Direct contacts"].iter_rows(values_only=True))
    assert rows[0][:5] == ("kind", "a", "a label", "b", "b label")
    assert sorted((r[0], r[1], r[3], r[7], r[8]) for r in rows[1:]) == sorted(
        zip(net["kind"], net["a"], net["b"], net["calls"], net["sms"], strict=True))
    links = list(wb["Links"].iter_rows(values_only=True))
    col = links[0].index("direct contact")
    assert sorted(tuple(sorted(r[0:3:2])) for r in links[1:] if r[col] == "both") == sorted(
        zip(both["a"], both["b"], strict=True))
    code, stdout, err = run_cli(capsys, "-w", str(ws.root), "evaluate", str(ws.root / "edges.csv"))
    assert code == 0, err
    assert re.search(r"against direct contacts \(call records\): \d+ link\(s\), \d+ direct-contact pair\(s\) between "
                     r"these subscribers, \d+ both", stdout)


def test_evaluate_needs_truth_or_call_records(ws, tmp_path, capsys):
    from cdrnet.synth.writers import write_dump
    from tests.conftest import make_sessions

    ingest(ws, write_dump(make_sessions(20), "vi", tmp_path / "vi.csv"))
    edges = tmp_path / "e.csv"
    edges.write_text("a,b,score\n")
    code, _, err = run_cli(capsys, "-w", str(ws.root), "evaluate", str(edges))
    assert code == 1
    assert err.splitlines() == [
        "error: nothing to evaluate against: no --truth file and no call records in the case",
        "hint: pass --truth truth.csv (a simulated case), or ingest the subscribers' voice/SMS CDRs"]
