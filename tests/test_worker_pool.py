"""The parsing workers' pool (loader/batch.py ``worker_pool``): forked from a fork server that
preloaded the loader, and stopped with the pool so no process outlives it."""

from __future__ import annotations

import multiprocessing.forkserver
import os
import sys

from cdrnet.loader.batch import WORKER_PRELOAD, worker_pool


def _loaded_in_worker() -> tuple[int, bool]:
    return os.getpid(), all(m in sys.modules for m in WORKER_PRELOAD if m != "__main__")


def test_workers_start_with_the_loader_imported_and_the_server_stops() -> None:
    with worker_pool(2) as pool:
        answers = [pool.submit(_loaded_in_worker).result() for _ in range(4)]
    assert all(pid != os.getpid() for pid, _ in answers)
    assert all(preloaded for _, preloaded in answers)
    # Stopped and waited for: its CPU time and its workers' count to this process (resource.RUSAGE_CHILDREN).
    assert multiprocessing.forkserver._forkserver._forkserver_pid is None  # noqa: SLF001
