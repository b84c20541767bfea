"""Crashes and re-runs: SIGKILL at random points, then the same result as an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
ENV.pop("NEO4J_URI", None)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-case")
    simulate(build_scenario("easy", subscribers=24, days=6, seed=8, malformed_share=0.01), root)
    return root


def cdrnet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cdrnet", "-q", *args], capture_output=True, text=True, env=ENV)


def kill_after(seconds: float, *args: str) -> int:
    p = subprocess.Popen([sys.executable, "-m", "cdrnet", "-q", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(seconds)
    p.send_signal(signal.SIGKILL)
    return p.wait()


def snapshot(ws_dir: Path) -> dict:
    ws = Workspace(ws_dir)
    times = ("ingested_at", "first_ingested_at")
    reports = {r.sha256: {k: v for k, v in r.to_dict().items() if k not in times} for r in ws.reports()}
    sessions = ws.sessions(dedupe=False).sort_values(["dump_sha256", "source_line"]).reset_index(drop=True)
    rejects = pd.read_csv(ws_dir / "rejects.csv", dtype=str).sort_values(["sha256", "line"]).reset_index(drop=True)
    leftovers = sorted(p.name for p in ws_dir.rglob(".*tmp*"))
    return {"reports": reports, "sessions": sessions, "rejects": rejects, "leftovers": leftovers}


def same(a: dict, b: dict) -> None:
    assert a["reports"] == b["reports"]
    pd.testing.assert_frame_equal(a["sessions"], b["sessions"])
    pd.testing.assert_frame_equal(a["rejects"], b["rejects"])
    assert b["leftovers"] == []


def test_killed_ingest_then_rerun_equals_clean_run(case, tmp_path):
    clean = tmp_path / "clean"
    assert cdrnet("-w", str(clean), "ingest", "--date-order", "dmy", str(case / "dumps")).returncode == 0
    want = snapshot(clean)
    rng = random.Random(3)
    for attempt in range(3):
        ws = tmp_path / f"killed{attempt}"
        kill_after(rng.uniform(1.0, 4.0), "-w", str(ws), "ingest", "--date-order", "dmy", str(case / "dumps"))
        r = cdrnet("-w", str(ws), "ingest", "--date-order", "dmy", str(case / "dumps"))
        assert r.returncode == 0, r.stderr
        same(want, snapshot(ws))


def test_killed_link_then_rerun_equals_clean_run(case, tmp_path):
    ws = tmp_path / "ws"
    assert cdrnet("-w", str(ws), "ingest", "--date-order", "dmy", str(case / "dumps")).returncode == 0
    assert cdrnet("-w", str(ws), "link", "--out", str(tmp_path / "clean.csv")).returncode == 0
    for delay in (1.0, 2.0, 3.0):
        kill_after(delay, "-w", str(ws), "link", "--out", str(tmp_path / "edges.csv"))
        if (tmp_path / "edges.csv").exists():  # never half a file: complete or absent
            pd.read_csv(tmp_path / "edges.csv")
        assert cdrnet("-w", str(ws), "link", "--out", str(tmp_path / "edges.csv")).returncode == 0
        assert (tmp_path / "edges.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()
        assert json.loads((tmp_path / "edges.json").read_text())["params"]["window_s"] == 180
