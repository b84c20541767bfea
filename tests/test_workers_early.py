"""The workers' fork server started before the command loads pandas and Arrow (loader/workers.py):
when the input looks like a case for workers, and never left running after the command."""

from __future__ import annotations

import json
import multiprocessing.forkserver
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdrnet.loader.workers import (
    AUTO_WORKERS,
    AUTO_WORKERS_BYTES,
    AUTO_WORKERS_MAX,
    likely_workers,
    start_early,
    stop_fork_server,
)

CORES = os.cpu_count() or 1


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk (only its size is read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def test_the_guess_follows_the_runs_own_choice(tmp_path: Path) -> None:
    case = tmp_path / "case"
    half = AUTO_WORKERS_BYTES // 2 + 1
    _sparse(case / "a.csv", half)
    _sparse(case / "sub" / "b.csv", half)
    auto = min(CORES, AUTO_WORKERS_MAX, 2) if CORES > 1 else 1
    assert likely_workers([case], AUTO_WORKERS, whole_dumps=True) == auto
    assert likely_workers([case / "a.csv", case / "sub" / "b.csv"], AUTO_WORKERS, whole_dumps=True) == auto
    assert likely_workers([case], AUTO_WORKERS, whole_dumps=False) == 1  # --replace, or Neo4j
    assert likely_workers([case / "a.csv"], AUTO_WORKERS, whole_dumps=True) == 1  # one dump
    small = tmp_path / "small"
    _sparse(small / "a.csv", 10)
    _sparse(small / "b.csv", 10)
    assert likely_workers([small], AUTO_WORKERS, whole_dumps=True) == 1  # below the threshold
    # A count named by the user: processes for several dumps; one dump's blocks go to threads.
    assert likely_workers([small], 2, whole_dumps=True) == 2
    assert likely_workers([small / "a.csv"], 2, whole_dumps=True) == 1
    assert likely_workers([_sparse(tmp_path / "big.csv", 64 << 20)], 3, whole_dumps=False) == 1
    assert likely_workers([small], 3, whole_dumps=False) == 1  # --replace, or Neo4j: blocks on threads
    assert likely_workers([small], 1, whole_dumps=True) == 1
    assert likely_workers([tmp_path / "missing"], 2, whole_dumps=True) == 1


def test_started_early_then_stopped(tmp_path: Path) -> None:
    server = multiprocessing.forkserver._forkserver  # noqa: SLF001 - the standard library's one server
    assert not start_early([tmp_path / "missing"], 2, whole_dumps=True)
    assert server._forkserver_pid is None  # noqa: SLF001
    _sparse(tmp_path / "a.csv", 10)
    _sparse(tmp_path / "b.csv", 10)
    try:
        assert start_early([tmp_path], 2, whole_dumps=True)
        pid = server._forkserver_pid  # noqa: SLF001
        assert pid is not None
        os.kill(pid, 0)  # running
    finally:
        stop_fork_server()
    assert server._forkserver_pid is None  # noqa: SLF001
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


PROBE = """
import json, multiprocessing.forkserver as fs, sys
seen = []
real = fs.ensure_running
def ensure_running():
    seen.append('pandas' in sys.modules or 'pyarrow' in sys.modules)
    return real()
fs.ensure_running = ensure_running
from cdrnet.cli import cli
from cdrnet.cli.common import run_guarded
code = run_guarded(cli, sys.argv[1:])
print(json.dumps({"code": code, "before_pandas": seen[:1] == [False], "starts": len(seen),
                  "left": fs._forkserver._forkserver_pid}))
"""


@pytest.mark.parametrize("workers", ["2", "1"])
def test_the_command_starts_it_before_loading_pandas(tmp_path: Path, workers: str) -> None:
    """``cdrnet ingest --workers 2`` on two dumps: the server is started before the command has
    loaded pandas or Arrow (so the two load side by side), the dumps load, and no server is left.
    With one worker none starts."""
    from cdrnet.synth.writers import render
    from tests.conftest import make_sessions

    case = tmp_path / "in"
    case.mkdir()
    for k in range(2):
        (case / f"d{k}.csv").write_text(render(make_sessions(300, msisdn=f"91980000000{k}", seed=k), "paper"))
    out = subprocess.run([sys.executable, "-c", PROBE, "-q", "-w", str(tmp_path / "ws"), "ingest",
                          "--workers", workers, str(case)], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0, out.stderr
    assert seen["left"] is None
    if workers == "2":
        assert seen["before_pandas"] and seen["starts"] >= 1, seen
    else:
        assert seen["starts"] == 0, seen
    assert "2 dump(s) loaded" in out.stdout
