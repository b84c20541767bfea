"""How many processes parse a run, and the fork server they are forked from.

Kept free of numpy, pandas and Arrow on purpose: the command line imports it first, to start
the fork server while it loads those itself (:func:`start_early`). The fork server imports the
loader too (``WORKER_PRELOAD``, ~0.4 s); started when the first dump is handed to a worker, that
import ran after the command's own (~0.5 s), one core idle meanwhile. Started before the command's
imports, the two run side by side on two cores.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from cdrnet.allocator import keep_heap
from cdrnet.loader.collector import quiet_worker

#: ``workers`` meaning "choose from the input" (what ``cdrnet ingest`` passes when no count is named).
AUTO_WORKERS = 0
#: Dumps of at least this many bytes in all go to worker processes when no count is named. Measured
#: side by side on a quiet 2-core machine (docs/benchmarks.md, "Workers chosen by the input"): two
#: workers were ~0.4 s slower up to 32 MB (starting them costs that), even at 64 MB, and 1.2x faster
#: at 128 MB, 1.3x at 256 MB, 1.4x on the 686 MB case.
AUTO_WORKERS_BYTES = 128 << 20
#: At most this many when chosen automatically: each worker holds ~300 MB.
AUTO_WORKERS_MAX = 4

#: What every worker imports to parse (pandas, Arrow, the normaliser): imported once in the fork
#: server, which the workers are forked from, not again in each worker.
WORKER_PRELOAD = ["__main__", "cdrnet.loader.ingest", "cdrnet.workspace"]


def default_workers() -> int:
    """Parsing processes when the user names none: CDRNET_WORKERS, else ``AUTO_WORKERS``."""
    env = os.environ.get("CDRNET_WORKERS", "")
    return int(env) if env.isdigit() and int(env) >= 1 else AUTO_WORKERS


def auto_workers(dumps: int, total: int, whole_dumps: bool) -> int:
    """How many processes parse a run when the user named no count.

    Workers pay only as whole dumps each (``loader/batch.py``): a case of many dumps, large enough
    that their start-up is repaid. One big dump stays in this process: its blocks shipped between
    processes cost what the second core saves (docs/benchmarks.md), so a count must be asked for.
    Not on platforms without the fork server the workers start from (Windows).
    """
    cores = os.cpu_count() or 1
    if (not whole_dumps or dumps < 2 or total < AUTO_WORKERS_BYTES or cores < 2
            or "forkserver" not in multiprocessing.get_all_start_methods()):
        return 1
    return min(cores, AUTO_WORKERS_MAX, dumps)


def _fork_context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx


def stop_fork_server() -> None:
    """Stop the fork server (and wait for it) if one runs: its CPU time then counts to this
    process's children, as spawned workers' did, and no server outlives the run."""
    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)  # noqa: SLF001 - no public stop
    if stop is not None:
        stop()


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` parsing processes, forked from a fork server that preloaded the loader.

    Why not ``spawn`` (what ran before): each spawned worker imported pandas, Arrow and cdrnet
    again, ~0.5 CPU s a worker on the many-dump case. Why not ``fork``: forking this process, which
    already runs Arrow's thread pools, can deadlock the child; the fork server is a fresh,
    single-threaded interpreter that has only imported modules. It is stopped (and waited for) when
    the pool ends. Each worker runs the cycle collector as a one-process run does
    (:mod:`cdrnet.loader.collector`).
    """
    ctx = _fork_context()
    _start_server()
    # Only this process holds the pipe's sending end: killed (by the OOM killer, kill -9), it can
    # neither stop the pool nor the server, and each worker sees the pipe close (_worker_start).
    alive_r, alive_w = ctx.Pipe(duplex=False)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_start,
                               initargs=(alive_r, _interruptible()))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        alive_w.close()
        alive_r.close()
        stop_fork_server()


def _worker_start(command: multiprocessing.connection.Connection, interruptible: bool) -> None:
    """A worker process's start (the pool's initializer).

    Ctrl-C interrupts it as it did the spawned workers, unless the command itself ignored SIGINT
    (``interruptible``; the fork server it is forked from ignores it: :func:`_start_server`); the
    cycle collector runs as in a one-process run (:func:`~cdrnet.loader.collector.quiet_worker`);
    glibc keeps its freed heap as in the command (:func:`~cdrnet.allocator.keep_heap`);
    and it ends when the command does. A worker waits on the pool's queue, whose sending end
    every worker holds too, so a command killed without its ``finally`` (kill -9, the OOM killer)
    left its workers, and the fork server they keep alive, waiting forever (~300 MB each): a
    thread here waits on a pipe only the command sends on, and ends the worker when it closes.
    """
    if interruptible:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    quiet_worker()
    keep_heap()

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            command.recv_bytes()
        os._exit(1)  # the command is gone: nothing will take this worker's results

    threading.Thread(target=watch, name="cdrnet-command-watch", daemon=True).start()


def _interruptible() -> bool:
    """Whether Ctrl-C interrupts this process (not run with SIGINT ignored, as ``nohup`` or a
    background job of a script does)."""
    return signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def _start_server() -> None:
    """Start the fork server (if it is not running) with SIGINT ignored.

    Ctrl-C in a terminal reaches every process of the command's group. The server ignores it once
    it has imported ``WORKER_PRELOAD``, but in the ~0.5 s of those imports (the command's first
    second since :func:`start_early`) it printed a KeyboardInterrupt traceback under the
    command's one-line "aborted". A process started with SIGINT ignored keeps it ignored (Python
    installs its handler only where SIGINT is not ignored); blocking it instead does not carry
    over (the standard library starts the server with an empty signal mask). This process ignores
    it only while the server is started (a few ms): ``signal`` can do that in the main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        multiprocessing.forkserver.ensure_running()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _input_size(paths: Sequence[str | Path]) -> tuple[int, int]:
    """Files and bytes under ``paths`` as the file system lists them (archives count as one file,
    unreadable entries as none): a guess made before anything is opened."""
    files = total = 0
    for path in paths:
        p = Path(path)
        try:
            if p.is_dir():
                for folder, _dirs, names in os.walk(p):
                    for name in names:
                        try:
                            total += os.stat(os.path.join(folder, name)).st_size
                            files += 1
                        except OSError:
                            continue
            elif p.exists():
                total += p.stat().st_size
                files += 1
        except OSError:
            continue
    return files, total


def likely_workers(paths: Sequence[str | Path], workers: int, whole_dumps: bool) -> int:
    """The processes a run over ``paths`` will most likely parse with, from the files' sizes alone.

    The run decides from the dumps it finds (archives opened, cell lists and junk set aside:
    ``loader.ingest``); this guess only decides whether to start the fork server early, so a wrong
    one costs that server's imports on an idle core, or the early start. A count named for one
    dump starts no process: its blocks are normalised on threads (``loader.ingest.parse_pool``).
    """
    files, total = _input_size(paths)
    if workers == AUTO_WORKERS:
        return auto_workers(files, total, whole_dumps)
    if workers > 1 and whole_dumps and files > 1:
        return workers
    return 1


def start_early(paths: Sequence[str | Path], workers: int, whole_dumps: bool) -> bool:
    """Start the workers' fork server now if the run will most likely use it (see the module's
    docstring); True if started. The caller stops it when the run ends (:func:`stop_fork_server`),
    whether or not workers were used."""
    if likely_workers(paths, workers, whole_dumps) <= 1:
        return False
    _fork_context()
    _start_server()
    return True
