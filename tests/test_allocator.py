"""The command line sets Arrow's memory pool and OpenBLAS's options before pyarrow and numpy load
(cdrnet/allocator.py)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from cdrnet.allocator import POOL_SETTINGS, PROCESS_SETTINGS, keep_heap, tune_process


def test_tune_process_sets_each_option_and_keeps_a_users(monkeypatch) -> None:
    assert POOL_SETTINGS == {"MIMALLOC_PURGE_DELAY": "-1", "MIMALLOC_ALLOW_THP": "0"}
    for name in POOL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    tune_process()
    assert {name: os.environ[name] for name in POOL_SETTINGS} == POOL_SETTINGS
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    monkeypatch.setenv("MIMALLOC_ALLOW_THP", "1")
    tune_process()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250" and os.environ["MIMALLOC_ALLOW_THP"] == "1"


@pytest.mark.parametrize("user", [None, {"MIMALLOC_PURGE_DELAY": "250"}, {"MIMALLOC_ALLOW_THP": "1"},
                                  {"OPENBLAS_NUM_THREADS": "2"}])
def test_the_command_line_sets_them_before_pyarrow_loads(user: dict[str, str] | None) -> None:
    """The console entry point runs a command with the options in place and neither pyarrow nor
    numpy loaded yet (mimalloc and OpenBLAS read them when those load)."""
    probe = (
        "import json, os, sys\n"
        "import cdrnet.cli as cli\n"
        "seen = {}\n"
        "def fake(command):\n"
        f"    seen['env'] = {{k: os.environ.get(k) for k in {sorted(PROCESS_SETTINGS)!r}}}\n"
        "    seen['pyarrow'] = 'pyarrow' in sys.modules or 'numpy' in sys.modules\n"
        "    return 0\n"
        "cli.run_guarded = fake\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(seen))\n")
    env = {k: v for k, v in os.environ.items() if k not in PROCESS_SETTINGS}
    env.update(user or {})
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"env": {**PROCESS_SETTINGS, **(user or {})}, "pyarrow": False}


def test_mimalloc_reads_them() -> None:
    """pyarrow's mimalloc takes the options from the environment the command line sets."""
    probe = "import pyarrow as pa; pa.allocate_buffer(64); print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k not in POOL_SETTINGS}
    env.update(POOL_SETTINGS, MIMALLOC_VERBOSE="1")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    if out.stdout.strip() != "mimalloc":
        pytest.fail(f"pyarrow's default pool is {out.stdout.strip()!r}, not mimalloc: the options do nothing")
    options = dict(line.split("option '", 1)[1].split("': ", 1) for line in out.stderr.splitlines()
                   if line.startswith("mimalloc: option '") or line.startswith("option '"))
    assert options.get("purge_delay", "").strip() == "-1"
    # mimalloc 3 (pyarrow 22+) has the option; mimalloc 2 (older pyarrow) asks for no huge pages anyway.
    if "allow_thp" in options or pa_major() >= 22:
        assert options.get("allow_thp", "").strip() == "0"


def pa_major() -> int:
    import pyarrow

    return int(pyarrow.__version__.split(".")[0])


def _threads_after_numpy_loads(settings: dict[str, str]) -> int:
    probe = "import os, numpy; print(len(os.listdir('/proc/self/task')))"
    env = {k: v for k, v in os.environ.items() if k not in PROCESS_SETTINGS}
    env.update(settings)
    return int(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                              check=True).stdout)


def test_openblas_starts_no_thread_pool() -> None:
    """numpy's OpenBLAS reads the setting when numpy loads: with it the process has one thread,
    without it OpenBLAS starts one per core (Linux's /proc lists a process's threads)."""
    assert _threads_after_numpy_loads(PROCESS_SETTINGS) == 1
    if (os.cpu_count() or 1) > 1:
        assert _threads_after_numpy_loads({}) > 1


def _faults_of_reused_blocks(keep: bool) -> int:
    """Minor page faults of taking again, twice, four 20 MB blocks just freed (a fresh process)."""
    probe = (
        "import resource, sys\n"
        "from cdrnet.allocator import keep_heap\n"
        f"assert keep_heap() if {keep} else True\n"
        "big = b'x' * (30 << 20)\n"  # a large block freed raises glibc's own thresholds
        "del big\n"
        "def blocks():\n"
        "    held = [b'x' * (20 << 20) for _ in range(4)]\n"
        "    del held\n"
        "blocks()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "blocks(); blocks()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    return int(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                              check=True).stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_an_ingest_keeps_its_freed_heap() -> None:
    """With :func:`keep_heap` the blocks freed are taken again without the kernel zeroing new pages:
    glibc's default trims the heap's top once more than 64 MB is free there (80 MB here), so each
    round faults its 80 MB in again (~40k faults for two rounds)."""
    assert _faults_of_reused_blocks(keep=False) > 20_000
    assert _faults_of_reused_blocks(keep=True) < 2_000


def test_keep_heap_leaves_a_users_malloc_tunables(monkeypatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000000")
    assert keep_heap() is False
