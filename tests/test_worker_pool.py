"""The parsing workers' pool (loader/workers.py ``worker_pool``): forked from a fork server that
preloaded the loader, and stopped with the pool so no process outlives it."""

from __future__ import annotations

import multiprocessing.forkserver
import os
import sys

from cdrnet.loader.workers import WORKER_PRELOAD, worker_pool


def _loaded_in_worker() -> tuple[int, bool]:
    return os.getpid(), all(m in sys.modules for m in WORKER_PRELOAD if m != "__main__")


def test_workers_start_with_the_loader_imported_and_the_server_stops() -> None:
    with worker_pool(2) as pool:
        answers = [pool.submit(_loaded_in_worker).result() for _ in range(4)]
    assert all(pid != os.getpid() for pid, _ in answers)
    assert all(preloaded for _, preloaded in answers)
    # Stopped and waited for: its CPU time and its workers' count to this process (resource.RUSAGE_CHILDREN).
    assert multiprocessing.forkserver._forkserver._forkserver_pid is None  # noqa: SLF001


def test_a_worker_collects_each_staged_dumps_garbage(tmp_path, monkeypatch) -> None:
    """A worker frees a staged dump's frames as a one-process run does after each commit: without
    it, frames (reference cycles) waited for the collector's full passes and a worker grew to ~700 MB
    on the 400-dump case (docs/benchmarks.md, eighth round)."""
    from cdrnet.loader import ingest
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.loader.sources import iter_sources
    from cdrnet.synth.writers import render
    from cdrnet.workspace import Workspace
    from tests.conftest import make_sessions

    (tmp_path / "in").mkdir()
    for k in range(2):
        (tmp_path / "in" / f"d{k}.csv").write_text(render(make_sessions(30, msisdn=f"91980000000{k}", seed=k), "paper"))
    ws = Workspace(tmp_path / "ws").create()
    sources = list(iter_sources([str(tmp_path / "in")]))
    collected: list[int] = []
    monkeypatch.setattr(ingest, "collect_dump_garbage", lambda: collected.append(len(collected)))
    opts = Options(rules=load_signatures("modern"))
    staged = ingest.stage_run(sources, ws.stager(), builtin_layouts(), opts, "modern")
    assert [error for _, error in staged] == [None, None]
    assert len(collected) == 2  # once per staged dump
    for outcome, _ in staged:
        ws.discard(outcome[1])
