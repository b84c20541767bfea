"""Co-location from call records: the cells voice/SMS CDRs place subscribers at join the cells
their IPDR sessions give, in both engines, with hand-counted episodes (tests/coloc_case.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from cdrnet.analysis.cousage import LinkParams, link
from cdrnet.analysis.observed import Coverage
from cdrnet.analysis.units import LAST_CELL_SUFFIX, call_sightings
from cdrnet.api import Case
from cdrnet.workspace import Workspace
from tests.coloc_case import (
    COLOC_WITH_CALLS,
    COMMON_DAYS_IPDR,
    COMMON_DAYS_WITH_CALLS,
    A,
    B,
    X,
    write_coloc_case,
)
from tests.conftest import SIM_ORDER, ingest

CASE = "coloc-calls"
PARAMS = (LinkParams(), LinkParams(score_colocation=True), LinkParams(window_s=60, burst_gap_s=0),
          LinkParams(colocation=False))


def _pair(edges: pd.DataFrame) -> pd.Series | None:
    e = edges[(edges["a"] == A) & (edges["b"] == B)]
    return e.iloc[0] if len(e) else None


def _sorted(edges: pd.DataFrame) -> pd.DataFrame:
    return edges.sort_values(["a", "b"]).reset_index(drop=True)


def test_a_call_places_its_own_subscriber_at_the_first_cell_then_the_last():
    t = pd.Timestamp("2026-03-16 03:30:00", tz="UTC")
    later = t + pd.Timedelta(days=2)
    calls = pd.DataFrame({
        "event_key": ["k1", "k2", "k3", "k1", "k4"], "msisdn": [A, A, B, A, A], "b_party": [X, B, A, X, X],
        "start_utc": [t, t, t, t, later],
        "end_utc": [s + pd.Timedelta(seconds=d) for s, d in ((t, 600), (t, 30), (t, 30), (t, 600), (later, 10))],
        "first_cell": ["c1", "c2", "c3", "c1", ""], "last_cell": ["c9", "c2", "", "c9", "c5"],
        "dump_sha256": ["d1", "d1", "d2", "d1", "tower"], "source_line": [4, 5, 6, 4, 9]})
    # A's and B's own CDRs cover one day; k4 (a tower dump's row two days later) lies outside A's.
    periods = pd.DataFrame({"msisdn": [A, B], "sha256": ["d1", "d2"],
                            "start_utc": [t - pd.Timedelta(hours=3)] * 2, "end_utc": [t + pd.Timedelta(hours=20)] * 2})
    seen = call_sightings(calls, periods)
    got = sorted(zip(seen["session_key"], seen["msisdn"], seen["cell_id"],
                     (seen["start_utc"] - t).dt.total_seconds(), (seen["end_utc"] - t).dt.total_seconds(),
                     strict=True))
    # k1 (delivered twice) is one event: first cell at the start, the other last cell at the end;
    # k2 one visit from start to end; k3 places B only (never A, the other party); k4 lies outside
    # every CDR period of A's (a tower dump's row): not counted.
    assert got == [("k1", A, "c1", 0, 0), (f"k1{LAST_CELL_SUFFIX}", A, "c9", 600, 600), ("k2", A, "c2", 0, 30),
                   ("k3", B, "c3", 0, 30)]
    assert call_sightings(None).empty and list(call_sightings(calls.iloc[:0]).columns) == list(seen.columns)
    assert len(call_sightings(calls)) == 5  # without periods (no reports at hand) every row counts


@pytest.fixture(scope="module")
def coloc_files(tmp_path_factory):
    return write_coloc_case(tmp_path_factory.mktemp("coloc") / "in")


@pytest.fixture
def cws(tmp_path, coloc_files) -> Workspace:
    w = Workspace(tmp_path / "ws").create()
    res = ingest(w, *coloc_files, date_order=SIM_ORDER)
    assert not res.failed and [r.loaded for r in res.loaded] == [60, 61, 4, 4, 3]
    return w


def test_coverage_keeps_cdr_periods_apart_and_knows_the_tower_dumps(cws):
    cov = cws.coverage()
    reports = {r.name.rsplit("/", 1)[-1]: r for r in cws.reports()}
    assert cov.towers == {reports["tower_33333.csv"].sha256}
    assert sorted(cov.call_periods["msisdn"]) == [A, B]
    assert int(cov.common_days([A], [B])[0]) == COMMON_DAYS_IPDR
    assert int(cov.colocation().common_days([A], [B])[0]) == COMMON_DAYS_WITH_CALLS
    # The data-session days alone decide messaging's null and the zone: the CDRs change neither.
    assert cov.tz == Coverage.from_reports([r for r in cws.reports() if r.kind == "sessions"]).tz


def test_cdr_cells_join_ipdr_cells_on_the_canonical_key(cws):
    with_calls = _pair(cws.link(LinkParams()).edges)
    assert with_calls is not None
    assert with_calls["coloc_obs"] == COLOC_WITH_CALLS
    # 66666 is above 65535, so an LTE ECI: keyed without its TAC (loader/cells.py).
    assert with_calls["cells"] == "404-70-166-33333=1;404-70-166-44444=1;404-70-166-55555=1;404-70-66666=1"
    assert with_calls["common_days"] == COMMON_DAYS_WITH_CALLS
    # Not scored by default: the pair has no messaging or call evidence, co-location is shown only.
    assert with_calls["score"] == 0 and not with_calls["link"]
    scored = _pair(cws.link(LinkParams(score_colocation=True)).edges)
    assert scored["coloc_obs"] == COLOC_WITH_CALLS and scored["score"] > 2
    # Without the call records the two never share a cell; --no-colocation reads none of it.
    frame = cws.sessions()
    alone = _pair(link(frame, LinkParams(), coverage=cws.coverage()).edges)
    assert alone is None or alone["coloc_obs"] == 0
    off = _pair(cws.link(LinkParams(colocation=False)).edges)
    assert off is None or off["coloc_obs"] == 0


def test_a_day_only_the_cdrs_cover_counts_only_through_their_periods(cws):
    frame, calls = cws.sessions(), cws.calls()
    cov = cws.coverage()
    # The same CDRs, had they been requested up to 16 March only (their 17 March rows then lie
    # outside every period, as a stray row would): the 17 March match is on no observed day.
    short = cov.call_periods.assign(end_utc=pd.Timestamp("2026-03-16 12:00:00", tz="UTC"))
    until_16 = Coverage(cov.periods, cov.tz, cov.scopes, cov.resolution, short, cov.towers)
    edge = _pair(link(frame, LinkParams(), coverage=until_16, calls=calls).edges)
    assert edge["coloc_obs"] == COLOC_WITH_CALLS - 1 and edge["common_days"] == COMMON_DAYS_IPDR
    assert _pair(link(frame, LinkParams(), coverage=cov, calls=calls).edges)["coloc_obs"] == COLOC_WITH_CALLS


def test_evidence_traces_a_cdr_co_location_to_the_call_dump_and_line(cws):
    case = Case(store=cws)
    case.link()
    ev, files = case.evidence(A, B)
    coloc = ev.events[ev.events["evidence"] == "coloc"]
    assert len(coloc) == COLOC_WITH_CALLS
    reports = {r.name.rsplit("/", 1)[-1]: r.sha256 for r in cws.reports()}
    got = sorted(zip(coloc["key"], coloc["a_file"].str.rsplit("/", n=1).str[-1], coloc["a_line"],
                     coloc["b_file"].str.rsplit("/", n=1).str[-1], coloc["b_line"], strict=True))
    # Airtel CDR: preamble 2 lines, header line 3, rows from line 4 (sorted by start); Vi: header
    # after 3 preamble lines, rows from line 5; B's IPDR row for 15 March is its session line.
    b_ipdr = cws.sessions(msisdns=[B])
    b_line = int(b_ipdr.loc[b_ipdr["cell_id"] == "404-70-166-33333", "source_line"].iloc[0])
    assert got == [("404-70-166-33333", "a_airtel_cdr.csv", 4, "b_ipdr.csv", b_line),
                   ("404-70-166-44444", "a_airtel_cdr.csv", 6, "b_vi_cdr.csv", 6),
                   ("404-70-166-55555", "a_airtel_cdr.csv", 6, "b_vi_cdr.csv", 7),
                   ("404-70-66666", "a_airtel_cdr.csv", 7, "b_vi_cdr.csv", 8)]
    assert set(coloc["a_sha256"]) == {reports["a_airtel_cdr.csv"]}
    assert coloc["a_session_key"].str.endswith(LAST_CELL_SUFFIX).sum() == 1  # A's handover to 55555
    assert all(p.exists() for p in files)


def test_pair_report_scores_with_the_call_records(cws):
    case = Case(store=cws)
    rep = case.pair(A, B, score_colocation=True)
    edge = _pair(cws.link(LinkParams(score_colocation=True)).edges)
    assert rep.edge is not None and rep.edge["coloc_obs"] == COLOC_WITH_CALLS
    assert rep.edge["score"] == pytest.approx(edge["score"])


@pytest.mark.neo4j
def test_neo4j_gives_the_same_edges_with_call_records(graph, cws, coloc_files):
    res = ingest(graph, *coloc_files, date_order=SIM_ORDER)
    assert not res.failed
    frame, calls, cov = graph.sessions(), graph.calls(), graph.coverage()
    assert cov.towers == cws.coverage().towers
    for params in PARAMS:
        neo = _sorted(graph.link(params).edges)
        emb = _sorted(link(frame, params, coverage=cov, calls=calls).edges)
        on_ws = _sorted(cws.link(params).edges)
        pd.testing.assert_frame_equal(neo, emb, check_exact=False, rtol=1e-9)
        pd.testing.assert_frame_equal(neo, on_ws, check_exact=False, rtol=1e-9)
        if params.colocation:  # the 17 March pair is 120 s apart: outside a 60 s window
            assert _pair(neo)["coloc_obs"] == COLOC_WITH_CALLS - (params.window_s < 120)


@pytest.mark.neo4j
def test_neo4j_equals_embedded_on_a_simulated_case_with_cdrs_and_tower_dumps(graph, tmp_path):
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate

    simulate(build_scenario("calls", seed=7, subscribers=14, days=4), tmp_path / "sim")
    res = ingest(graph, tmp_path / "sim" / "dumps", date_order=SIM_ORDER)
    assert not res.failed
    frame, calls, cov = graph.sessions(), graph.calls(), graph.coverage()
    assert len(cov.towers) > 0 and len(calls) > 0
    for params in PARAMS[:3]:
        neo = _sorted(graph.link(params).edges)
        emb = _sorted(link(frame, params, coverage=cov, calls=calls).edges)
        assert len(emb) > 10
        pd.testing.assert_frame_equal(neo, emb, check_exact=False, rtol=1e-9)
    # The CDRs add co-located episodes to the IPDRs' (every subscriber's CDR shares the IPDR's cells).
    with_calls = graph.link(LinkParams()).edges
    without = link(frame, LinkParams(), coverage=cov).edges
    assert with_calls["coloc_obs"].sum() > without["coloc_obs"].sum()


def test_cli_link_then_evidence_name_the_cdr_rows(cws, capsys, tmp_path):
    from tests.conftest import run_cli

    root = str(cws.root)
    code, out, err = run_cli(capsys, "-w", root, "link", "--score-colocation")
    assert code == 0, err
    code, out, err = run_cli(capsys, "-w", root, "evidence", A, B, "--out", str(tmp_path / "ev"))
    assert code == 0, err
    rows = pd.read_csv(tmp_path / "ev" / f"evidence_{A}_{B}.csv", dtype=str)
    coloc = rows[rows["evidence"] == "coloc"]
    sha = {r.name.rsplit("/", 1)[-1]: r.sha256 for r in cws.reports()}
    assert len(coloc) == COLOC_WITH_CALLS
    assert set(coloc["a_sha256"]) == {sha["a_airtel_cdr.csv"]}
    assert set(coloc["b_sha256"]) == {sha["b_ipdr.csv"], sha["b_vi_cdr.csv"]}
    # --no-colocation: no co-location row at all.
    code, out, err = run_cli(capsys, "-w", root, "evidence", A, B, "--no-colocation", "--out", str(tmp_path / "ev2"))
    assert code == 0, err
    again = pd.read_csv(tmp_path / "ev2" / f"evidence_{A}_{B}.csv", dtype=str)
    assert (again["evidence"] != "coloc").all()


def test_simulated_pairs_who_meet_are_co_located_by_their_cdrs(tmp_path):
    """The simulator's meetings also put calls in both parties' CDRs from the meeting's cell: with
    the IPDR cells blanked out, the CDRs alone co-locate planted pairs far more than others."""
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate

    out = {}
    for share in (0.0, 1.0):
        sc = build_scenario("calls", seed=7, subscribers=16, days=4, meeting_rate=1.0, cdr_meeting_share=share)
        summary = simulate(sc, tmp_path / str(share))
        w = Workspace(tmp_path / str(share) / "ws").create()
        assert not ingest(w, tmp_path / str(share) / "dumps", date_order=SIM_ORDER).failed
        truth = pd.read_csv(tmp_path / str(share) / "truth.csv", dtype=str)
        planted = set(zip(truth["a"], truth["b"], strict=True))
        edges = link(w.sessions().assign(cell_id=""), LinkParams(), coverage=w.coverage(), calls=w.calls()).edges
        is_planted = [(a, b) in planted for a, b in zip(edges["a"], edges["b"], strict=True)]
        out[share] = (summary["call_records"]["meeting_calls"], int(edges.loc[is_planted, "coloc_obs"].sum()),
                      int(edges.loc[[not p for p in is_planted], "coloc_obs"].sum()))
    assert out[0.0][0] == 0 and out[1.0][0] > 0
    # Meeting calls add co-location to the planted pairs only (the others' CDRs are unchanged).
    assert out[1.0][1] >= out[0.0][1] + 5 and out[1.0][2] == out[0.0][2]
