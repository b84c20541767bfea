"""The pair-local null: a pair is scored on the days both were observed, and on nothing else.

Real cases mix dumps requested for different periods and from different operators;
a pair's score must not move when dumps of other subscribers are added.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.analysis.cousage import LinkParams, link
from cdrnet.analysis.observed import Coverage, standard_offset_s
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from tests.conftest import SIM_ORDER, ingest, run_cli
from tests.helpers import frame, sess

A, B, C = "919800000001", "919800000002", "919800000003"
COMPARED = ["messaging_obs", "messaging_exp", "messaging_tight", "call_obs", "call_exp", "coloc_obs", "coloc_exp",
            "score", "p_value", "common_days"]


def coverage(periods: dict[str, list[tuple[str, str]]], tz: str = "UTC") -> Coverage:
    rows = [{"msisdn": m, "sha256": f"{m}-{i}", "start_utc": pd.Timestamp(s, tz="UTC"),
             "end_utc": pd.Timestamp(e, tz="UTC"), "source": "preamble"}
            for m, spans in periods.items() for i, (s, e) in enumerate(spans)]
    return Coverage(pd.DataFrame(rows), tz)


def base_case() -> tuple[pd.DataFrame, dict[str, list[tuple[str, str]]]]:
    """A and B chat daily for ten days; C is active at other moments."""
    rows = []
    for d in range(1, 11):
        rows += [sess(A, f"2024-01-{d:02d} 10:00:00"), sess(B, f"2024-01-{d:02d} 10:00:20")]
        rows += [sess(A, f"2024-01-{d:02d} 21:{d:02d}:00", "tg"), sess(C, f"2024-01-{d:02d} 21:{d + 1:02d}:30", "tg")]
        rows += [sess(C, f"2024-01-{d:02d} 10:02:00"), sess(B, f"2024-01-{d:02d} 18:00:00", "tg")]
    periods = {A: [("2024-01-01", "2024-01-10 23:59:59")], B: [("2024-01-01", "2024-01-10 23:59:59")],
               C: [("2024-01-01", "2024-01-10 23:59:59")]}
    return frame(rows), periods


def by_pair(edges: pd.DataFrame) -> pd.DataFrame:
    return edges.set_index(["a", "b"]).sort_index()


others = st.lists(
    st.tuples(st.integers(-400, 400), st.integers(0, 20), st.integers(1, 30), st.booleans(), st.integers(0, 2**31)),
    min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(others)
def test_adding_other_subscribers_never_moves_a_pair(extra):
    """Property: dumps of other subscribers (any period, any activity, even co-using with A and B
    at the same moments) leave every existing pair's counts, expected counts and score unchanged."""
    base, periods = base_case()
    params = LinkParams()
    before = by_pair(link(base, params, coverage=coverage(periods)).edges)
    rows, all_periods = [], dict(periods)
    for k, (offset, length, n, mimic, seed) in enumerate(extra):
        m = f"9197000000{k:02d}"
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=offset)
        end = start + pd.Timedelta(days=length, hours=23, minutes=59)
        all_periods[m] = [(str(start), str(end))]
        rng = np.random.default_rng(seed)
        when = start + pd.to_timedelta(rng.integers(0, int((end - start).total_seconds()) + 1, n), unit="s")
        if mimic:  # shadow A's chats exactly (inside its own period only)
            shadow = pd.to_datetime([f"2024-01-{d:02d} 10:00:10" for d in range(1, 11)])
            when = when.append(shadow[(shadow >= start) & (shadow <= end)])
        rows += [sess(m, str(t), app) for t, app in zip(when, rng.choice(["wa", "tg", "call"], len(when)), strict=True)]
    grown = pd.concat([base, frame(rows)], ignore_index=True)
    after = by_pair(link(grown, params, coverage=coverage(all_periods)).edges)
    kept = after.loc[before.index, COMPARED]
    pd.testing.assert_frame_equal(kept, before[COMPARED], check_exact=False, rtol=1e-9, atol=1e-12)


def test_pairs_with_fewer_than_two_common_days_are_not_scored():
    rows = [sess(A, "2024-01-05 10:00:00"), sess(B, "2024-01-05 10:00:30"), sess(A, "2024-01-06 10:00:00")]
    periods = {A: [("2024-01-01", "2024-01-10 23:59:59")], B: [("2024-01-05 09:00", "2024-01-05 11:00")]}
    res = link(frame(rows), LinkParams(), coverage=coverage(periods))
    assert res.edges.empty and res.unscored_pairs == 1 and res.testable_pairs == 0


def test_matches_on_days_not_observed_by_both_do_not_count():
    # B's dump covers 3-6 January; A (1-10 January) and B also co-use on the 8th, a row outside B's
    # requested period: it is not counted, and the null uses only the 4 common days.
    rows = []
    for d in (3, 4, 5, 6, 8):
        rows += [sess(A, f"2024-01-{d:02d} 10:00:00"), sess(B, f"2024-01-{d:02d} 10:00:30")]
    periods = {A: [("2024-01-01", "2024-01-10 23:59:59")], B: [("2024-01-03", "2024-01-06 23:59:59")]}
    e = by_pair(link(frame(rows), LinkParams(colocation=False), coverage=coverage(periods)).edges)
    assert e.loc[(A, B), "messaging_obs"] == 4
    assert e.loc[(A, B), "common_days"] == 4
    # Same hour every day: the null expects (2w+1)/3600 * (4*4 - 4) / 3 per pair.
    assert e.loc[(A, B), "messaging_exp"] == pytest.approx(361 / 3600 * 12 / 3)


def test_days_follow_the_case_zone():
    # 23:00 UTC is 04:30 the next day in India: the chats fall on 2-4 January local time.
    rows = []
    for d in (1, 2, 3):
        rows += [sess(A, f"2024-01-{d:02d} 23:00:00"), sess(B, f"2024-01-{d:02d} 23:00:30")]
    periods = {A: [("2024-01-01 18:30", "2024-01-04 18:29:59")], B: [("2024-01-01 18:30", "2024-01-04 18:29:59")]}
    e = by_pair(link(frame(rows), LinkParams(colocation=False), coverage=coverage(periods, "Asia/Kolkata")).edges)
    assert e.loc[(A, B), "common_days"] == 3 and e.loc[(A, B), "messaging_obs"] == 3
    assert standard_offset_s("Asia/Kolkata") == 19800 and standard_offset_s("Europe/Berlin") == 3600


def test_call_signature_degrades_where_ends_and_volumes_are_per_record():
    # Airtel: the end is the PDP record's close and volumes are record totals: the two flows of one
    # call then look unlike (300 s vs 1,700 s, volumes far apart). Declared per record, the call is
    # matched on start and relay alone; declared per flow, it is not.
    rows = [sess(A, "2024-01-02 10:00:00", "call", dur=300, up=5000, down=4000),
            sess(B, "2024-01-02 10:00:02", "call", dur=1700, up=900000, down=10)]
    f = frame(rows).assign(dump_sha256=["airtel-a", "airtel-b"])
    periods = {A: [("2024-01-01", "2024-01-05 23:59:59")], B: [("2024-01-01", "2024-01-05 23:59:59")]}
    flow = coverage(periods)
    assert link(f, LinkParams(colocation=False), coverage=flow).edges.empty
    record = coverage(periods)
    record.scopes = {"airtel-a": ("record", "record"), "airtel-b": ("record", "record")}
    e = by_pair(link(f, LinkParams(colocation=False), coverage=record).edges)
    assert e.loc[(A, B), "call_obs"] == 1


def test_coverage_from_reports_prefers_the_stated_period():
    from cdrnet.loader.quality import DumpReport

    stated = DumpReport(name="a.csv", sha256="s1", size=1, msisdns=[A], start_min="2024-01-03T10:00:00+00:00",
                        start_max="2024-01-04T10:00:00+00:00", tz="Asia/Kolkata")
    stated.period_start_utc = "2024-01-01T00:00:00+00:00"
    stated.period_end_utc = "2024-01-09T23:59:59+00:00"
    rows_only = DumpReport(name="b.csv", sha256="s2", size=1, msisdns=[B], start_min="2024-01-03T10:00:00+00:00",
                           start_max="2024-01-04T10:00:00+00:00", tz="Asia/Kolkata")
    cov = Coverage.from_reports([stated, rows_only])
    assert cov.tz == "Asia/Kolkata"
    assert len(cov.days_of(A)) == 10 and len(cov.days_of(B)) == 2
    assert cov.common_days([A], [B]).tolist() == [2]
    assert set(cov.periods["source"]) == {"preamble", "rows"}


def _sim(out: Path, seed: int, start: str, layout: str) -> Path:
    sc = build_scenario("easy", seed=seed, subscribers=16, days=6, start_date=start, layout=layout)
    simulate(sc, out)
    return out


def test_adding_an_older_case_in_another_layout_leaves_every_score(tmp_path, ws, capsys):
    """End to end on a workspace: ingest a case, link; ingest a case of another year in the Jio
    layout; link again: every pair of the first case keeps its counts and score."""
    first = _sim(tmp_path / "now", 7, "2024-03-04", "paper")
    ingest(ws, first / "dumps", date_order=SIM_ORDER)
    assert run_cli(capsys, "-w", str(ws.root), "link")[0] == 0
    before = by_pair(pd.read_csv(ws.root / "edges.csv", dtype={"a": str, "b": str}))
    older = _sim(tmp_path / "old", 11, "2022-10-10", "jio")
    ingest(ws, older / "dumps", date_order=SIM_ORDER)
    assert run_cli(capsys, "-w", str(ws.root), "link")[0] == 0
    after = by_pair(pd.read_csv(ws.root / "edges.csv", dtype={"a": str, "b": str}))
    assert len(after) > len(before) > 10
    pd.testing.assert_frame_equal(after.loc[before.index, COMPARED], before[COMPARED], check_exact=False, rtol=1e-6)


def test_one_score_in_link_pair_evidence_and_map(tmp_path, ws, capsys):
    """The same pair gets the same score from link, pair, evidence and map on a case that mixes layouts."""
    paper = _sim(tmp_path / "p", 7, "2024-03-04", "paper")
    vi = _sim(tmp_path / "v", 7, "2024-03-04", "vi")
    files = sorted((paper / "dumps").glob("*.csv"))
    vi_files = sorted((vi / "dumps").glob("*.csv"))
    mixed = files[::2] + vi_files[1::2]  # the same people, half written by each operator
    ingest(ws, *mixed, date_order=SIM_ORDER)
    assert {r.layout for r in ws.reports()} == {"paper", "vi"}
    assert run_cli(capsys, "-w", str(ws.root), "link")[0] == 0
    edges = pd.read_csv(ws.root / "edges.csv", dtype={"a": str, "b": str})
    top = edges[edges["link"]].iloc[0]
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "pair", top["a"], top["b"])
    assert code == 0 and f"Score {top['score']:.2f} " in out
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "evidence", top["a"], top["b"], "--out", str(tmp_path / "ev"))
    assert code == 0 and f"score {top['score']:.2f} " in out
    code, _, _ = run_cli(capsys, "-w", str(ws.root), "map", "--format", "json", "--out", str(tmp_path / "m.json"))
    assert code == 0
    graph = json.loads((tmp_path / "m.json").read_text())
    links = graph.get("links") or graph.get("edges")
    scores = {tuple(sorted((str(x["source"]), str(x["target"])))): x.get("score") for x in links}
    assert scores[(top["a"], top["b"])] == pytest.approx(top["score"], rel=1e-6)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_common_day_bitmap_equals_table_search(tz: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dense day bitmap (issue 17) answers exactly what the binary search of the day table does,
    including times before, between and after every period and subscribers with no period."""
    from cdrnet.analysis import cousage

    cov = coverage({A: [("2024-03-01", "2024-03-05"), ("2024-03-09", "2024-03-10")],
                    B: [("2024-03-04", "2024-03-12")]}, tz)
    codes = pd.Index([A, B, C])
    fast = cousage.DayFrame(cov, codes)
    monkeypatch.setattr(cousage, "GRID_MAX_CELLS", 0)
    slow = cousage.DayFrame(cov, codes)
    assert fast.grid is not None and slow.grid is None
    rng = np.random.default_rng(7)
    lo, hi = pd.Timestamp("2024-02-25", tz="UTC").timestamp(), pd.Timestamp("2024-03-16", tz="UTC").timestamp()
    t = rng.integers(int(lo), int(hi), 20_000)
    a, b = rng.integers(0, 3, len(t)), rng.integers(0, 3, len(t))
    got, want = fast.on_common_days(a, b, t), slow.on_common_days(a, b, t)
    assert want.any() and not want.all()
    np.testing.assert_array_equal(got, want)
