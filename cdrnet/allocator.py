"""A command's process: Arrow's memory pool keeps freed memory and asks for no transparent huge
pages, and numpy's OpenBLAS starts no thread pool.

pyarrow allocates through mimalloc (3.x in pyarrow 22+), and two of its defaults cost a command
dearly on this kind of work (docs/benchmarks.md, "The cycle collector and the memory pool" and
"mimalloc's transparent huge pages"):

- It hands freed memory back to the system 1 s after it is freed and takes it again for the
  next dump, fresh pages the kernel must zero. A command is a short process that parses dump
  after dump, so it keeps what it freed (``MIMALLOC_PURGE_DELAY=-1``): 0.5-1.1 CPU s less on the
  400-dump case of ``python -m bench.manydumps``, for ~30 MB more peak memory.
- It asks the kernel for transparent huge pages (``allow_thp``). Where the machine grants them
  on request only (``madvise``, Debian's and many distributions' default, with ``defrag``
  ``madvise``), each fresh 2 MB region is zeroed whole and may first be compacted in the page
  fault itself: ``cdrnet link`` of that case (3.0M sessions, 3 GB of tables) spent 16-24 s in the
  kernel against 9 s in its own code, and took 10 s wall with ``MIMALLOC_ALLOW_THP=0`` against
  25-31 s, with a lower peak (3.0 against 3.6 GB); an ingest is unchanged or a little faster.

- numpy's OpenBLAS starts a thread per core when numpy loads, and those threads spin ~0.1 CPU s
  before they sleep, in every process that imports numpy (the command, and the fork server its
  parsing workers come from). cdrnet does no dense algebra large enough for threads to pay (its
  one matrix product is of the case's day sets, a few hundred rows), so the commands ask for one
  (``OPENBLAS_NUM_THREADS=1``): 0.1 CPU s less per process, measured with ``/usr/bin/time``.

mimalloc and OpenBLAS read these from the environment when pyarrow and numpy load, so the command
line sets them before anything imports either; the worker processes inherit them. A value the
user set is kept. A notebook that imports cdrnet keeps the libraries' defaults (set the
variables before starting it to match).
"""

from __future__ import annotations

import ctypes
import os
import platform

#: mimalloc's delay before freed memory goes back to the system; -1: never, while the process lives.
PURGE_DELAY = "-1"
#: mimalloc asks for transparent huge pages unless this is 0.
ALLOW_THP = "0"
#: Arrow's memory pool options (mimalloc's environment variables).
POOL_SETTINGS = {"MIMALLOC_PURGE_DELAY": PURGE_DELAY, "MIMALLOC_ALLOW_THP": ALLOW_THP}
#: numpy's OpenBLAS: no thread pool (one thread: the caller's).
THREAD_SETTINGS = {"OPENBLAS_NUM_THREADS": "1"}
#: What the commands set (unless already set) before pyarrow and numpy load.
PROCESS_SETTINGS = {**POOL_SETTINGS, **THREAD_SETTINGS}


def tune_process() -> None:
    """Set the libraries' options for a command's process (values the user set are kept)."""
    for name, value in PROCESS_SETTINGS.items():
        os.environ.setdefault(name, value)


#: glibc's ``mallopt`` parameters (malloc.h): how much free memory at the top of the heap is kept
#: before it goes back to the system, and the size from which a block gets a mapping of its own.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: What an ingest sets (glibc's defaults: 128 kB each, raised as large blocks are freed, to at most
#: 64 MB and 32 MB): a block read, its text joined and its numpy columns (blocks of 8-16 MB, buffers of 1-16 MB
#: each) then reuse the heap's memory instead of pages the kernel must zero again.
HEAP_SETTINGS = {M_TRIM_THRESHOLD: 128 << 20, M_MMAP_THRESHOLD: 32 << 20}


def keep_heap() -> bool:
    """Let glibc keep freed heap memory for the blocks that follow (an ingest's process and workers).

    Why: an ingest frees and takes again a few large buffers per block (8-16 MB) (the block read, its
    lines joined, numpy's columns and their temporaries). glibc hands the top of its heap back to
    the system as soon as more than its trim threshold is free there (at most 64 MB, and 128 kB
    until a large block is freed), so each block's buffers were fresh pages: one 1M-row file took
    ~140k page faults, ~107k with these settings, and ~0.07 CPU s less in five pairs run at the same
    time (docs/benchmarks.md, "The kernel's share of one big file"), with no higher peak. Only the
    ingest sets it (not measured on the other commands); a user's ``GLIBC_TUNABLES`` for malloc is
    kept. Returns whether the settings were applied (glibc only: another C library keeps its own).
    """
    if platform.libc_ver()[0] != "glibc" or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in HEAP_SETTINGS.items())
