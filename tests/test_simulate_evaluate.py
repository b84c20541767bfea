"""Simulator properties, metrics on hand-made rankings, and the score's null."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from cdrnet.analysis.cousage import LinkParams, link
from cdrnet.analysis.metrics import (
    average_precision,
    evaluate,
    precision_at_k,
    rank_all_pairs,
    recall_at_fdr,
    roc_auc,
)
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import days_for_rows, simulate
from cdrnet.workspace import Workspace
from tests.conftest import SIM_ORDER, ingest, run_cli


def digest(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    sc = build_scenario("easy", subscribers=8, days=2, seed=3)
    simulate(sc, tmp_path / "a")
    simulate(sc, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    simulate(build_scenario("easy", subscribers=8, days=2, seed=4), tmp_path / "c")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


@pytest.mark.parametrize("layout", ["paper", "jio", "airtel", "vi"])
def test_layouts_parse_back_with_zero_rejects(tmp_path, layout):
    sc = build_scenario("easy", subscribers=6, days=2, layout=layout)
    summary = simulate(sc, tmp_path / "case")
    ws = Workspace(tmp_path / "ws").create()
    res = ingest(ws, tmp_path / "case" / "dumps", date_order=SIM_ORDER)
    assert not res.failed and len(res.loaded) == 6
    assert sum(r.loaded for r in res.loaded) == summary["sessions"]
    assert all(r.rejected_total == 0 and r.accounted and r.layout == layout for r in res.loaded)
    if layout == "airtel":  # starts per flow to the second; ends and volumes per PDP record
        assert all((r.time_level, r.end_scope, r.volume_scope) == ("flow", "record", "record") for r in res.loaded)


def test_planted_structure(tmp_path):
    sc = build_scenario("hard", subscribers=50, days=1)
    summary = simulate(sc, tmp_path)
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str)
    assert list(truth.columns) == ["a", "b", "kind"] and (truth["a"] < truth["b"]).all()
    assert set(truth["kind"]) <= {"chat", "group", "call"}
    assert (truth["kind"] == "chat").sum() == round(sc.chat_pairs * 50)
    assert (truth["kind"] == "call").sum() == round(sc.call_pairs * 50)
    scenario = json.loads((tmp_path / "scenario.json").read_text())
    assert scenario["scenario"]["seed"] == sc.seed and scenario["true_pairs"] == len(truth)
    assert summary["sessions"] > 50 * 50  # push, background, messaging for everyone


def test_switches_remove_behaviour(tmp_path):
    sc = build_scenario("easy", subscribers=6, days=1, push=False, background=False)
    simulate(sc, tmp_path / "c")
    ws = Workspace(tmp_path / "ws").create()
    ingest(ws, tmp_path / "c" / "dumps", date_order=SIM_ORDER)
    apps = set(ws.sessions()["app_category"])
    # Web remains only as Signal-like traffic on shared cloud hosting (and meetings).
    assert "push" not in apps and "mail" not in apps and "infrastructure" not in apps and "messaging" in apps


def test_rows_sets_days():
    sc = build_scenario("easy", subscribers=10)
    d = days_for_rows(sc, 50_000)
    assert 10 < d < 60


def test_metrics_on_hand_made_ranking():
    scores = np.array([3.0, 2.0, 1.0, -np.inf])
    labels = np.array([True, False, True, False])
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3) / 2)
    assert roc_auc(scores, labels) == pytest.approx(0.75)
    assert precision_at_k(scores, labels, 2) == 0.5
    assert recall_at_fdr(scores, labels, 0.05) == 0.5
    assert recall_at_fdr(scores, labels, 0.4) == 1.0
    # ties are not split in the model's favour
    assert average_precision(np.array([1.0, 1.0]), np.array([True, False])) == pytest.approx(0.5)


def test_rank_all_pairs_puts_missing_last():
    edges = pd.DataFrame({"a": ["1"], "b": ["2"], "score": [5.0]})
    truth = pd.DataFrame({"a": ["2", "1"], "b": ["3", "2"]})
    scores, labels = rank_all_pairs(edges, ["1", "2", "3"], truth)
    assert len(scores) == 3 and labels.sum() == 2
    assert evaluate(scores, labels)["ap"] == pytest.approx((1 + 2 / 3) / 2)


def test_no_systematic_false_links_without_planted_links(tmp_path):
    sc = build_scenario("hard", subscribers=30, days=7, chat_pairs=0.0, groups=0.0, call_pairs=0.0, meeting_rate=0.0)
    simulate(sc, tmp_path / "c")
    ws = Workspace(tmp_path / "ws").create()
    ingest(ws, tmp_path / "c" / "dumps", date_order=SIM_ORDER)
    e = link(ws.sessions(), LinkParams()).edges
    assert len(e) > 300
    assert e["link"].sum() == 0
    # p-values of unrelated pairs are not piled up near zero
    assert (e["p_value"] < 0.01).mean() < 0.05


def test_simulate_evaluate_cli(capsys, tmp_path):
    code, out, err = run_cli(capsys, "simulate", str(tmp_path / "case"), "--subscribers", "20", "--days", "7")
    assert code == 0, err
    ws = str(tmp_path / "ws")
    assert run_cli(capsys, "-w", ws, "ingest", "--date-order", SIM_ORDER, str(tmp_path / "case" / "dumps"))[0] == 0
    code, out, err = run_cli(capsys, "-w", ws, "link")
    assert code == 0, err and "links at FDR 0.05" in out
    code, out, err = run_cli(capsys, "-w", ws, "evaluate", "--truth", str(tmp_path / "case" / "truth.csv"),
                             str(tmp_path / "ws" / "edges.csv"), "--out", str(tmp_path / "m.csv"))
    assert code == 0, err
    m = pd.read_csv(tmp_path / "m.csv")
    assert list(m["method"]) == ["cdrnet", "paper (same port, 180s, raw count)"]
    assert m.loc[0, "ap"] > m.loc[1, "ap"]
