"""Arrow's memory pool in a command's process: keep freed memory for the next dump.

pyarrow allocates through mimalloc, which by default hands freed memory back to the system
10 ms after it is freed and takes it again on the next dump, as fresh transparent huge pages that
the kernel zeroes 2 MB at a time. On the 400-dump case of ``python -m bench.manydumps`` that
zeroing was ~8 % of an ingest's CPU (``perf``). A command is a short process that parses dump
after dump, so it keeps what it freed instead: 0.5-1.1 CPU s less on that case, run side by side
at the same time, for ~30 MB more peak memory (300 -> 330 MB; 480-490 -> 505-520 MB on one
1M-row file). docs/benchmarks.md, "The cycle collector and the memory pool", has the figures.

mimalloc reads the setting from its environment when pyarrow loads, so the command line sets it
before anything imports pyarrow; the worker processes inherit it. A notebook that imports
cdrnet keeps mimalloc's default (set ``MIMALLOC_PURGE_DELAY=-1`` before starting it to match).
"""

from __future__ import annotations

import os

#: mimalloc's delay before freed memory goes back to the system; -1: never, while the process lives.
PURGE_DELAY = "-1"


def keep_freed_memory() -> None:
    """Ask mimalloc to keep freed memory for this process (a value the user set is kept)."""
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", PURGE_DELAY)
