"""The cycle collector while dumps are parsed: rarely during a run, fully once a dump is committed.

The collector's settings are process-wide, so they are set for the run and handed back after it
(a notebook that ingests keeps its own), and set for the life of each worker process. Measured
on the 400-dump case (docs/benchmarks.md, "The cycle collector and the memory pool").
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The cycle collector's first threshold while dumps are parsed (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0  # runs inside fewer_collections now
_saved: tuple[int, int, int] = gc.get_threshold()  # the threshold the first of them found


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cycle collector rarely while dumps are parsed.

    Parsing makes Python objects by the thousand per block (frames, dicts, small lists), so at
    CPython's default threshold of 700 the collector ran ~1,000 times on the 400-dump case, seven
    of them full passes over every object of pandas, Arrow and cdrnet: 0.43 CPU s measured with
    ``gc.callbacks``, 0.15 s with these settings. The objects that exist on entry (imported
    modules, the caller's) are frozen out of the collector's passes and handed back on exit, as
    is the threshold; a dump's frames are still freed when it is committed
    (:func:`collect_dump_garbage`), so memory stays bounded as before.

    Runs that overlap (two threads of a notebook ingesting two workspaces) share the settings:
    the first to start sets them and the last to end hands them back.
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *_saved[1:])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()


def collect_dump_garbage() -> None:
    """Free a committed dump's frames now, not at the collector's next full pass.

    pandas frames and their Arrow-backed columns form reference cycles, which only the cycle
    collector frees, and it runs by counts of Python objects made, not bytes held: a dump's
    frames (megabytes, few objects) waited for it across many dumps. Collecting the young
    generations once a dump is committed costs ~0.3 ms and lowered the peak of a 400-dump
    ingest from ~700 to ~350 MB (``python -m bench.manydumps --phases`` prints it).
    """
    gc.collect(1)


def quiet_worker() -> None:
    """A worker process's start (the pool's initializer): the settings of :func:`fewer_collections`
    for the process's life; what the fork server imported is frozen."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
