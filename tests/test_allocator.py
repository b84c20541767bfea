"""The command line sets Arrow's memory pool options before pyarrow loads (cdrnet/allocator.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cdrnet.allocator import POOL_SETTINGS, tune_arrow_pool


def test_tune_arrow_pool_sets_each_option_and_keeps_a_users(monkeypatch) -> None:
    assert POOL_SETTINGS == {"MIMALLOC_PURGE_DELAY": "-1", "MIMALLOC_ALLOW_THP": "0"}
    for name in POOL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    tune_arrow_pool()
    assert {name: os.environ[name] for name in POOL_SETTINGS} == POOL_SETTINGS
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    monkeypatch.setenv("MIMALLOC_ALLOW_THP", "1")
    tune_arrow_pool()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250" and os.environ["MIMALLOC_ALLOW_THP"] == "1"


@pytest.mark.parametrize("user", [None, {"MIMALLOC_PURGE_DELAY": "250"}, {"MIMALLOC_ALLOW_THP": "1"}])
def test_the_command_line_sets_them_before_pyarrow_loads(user: dict[str, str] | None) -> None:
    """The console entry point runs a command with the options in place and pyarrow not yet
    loaded (mimalloc reads them when pyarrow loads)."""
    probe = (
        "import json, os, sys\n"
        "import cdrnet.cli as cli\n"
        "seen = {}\n"
        "def fake(command):\n"
        f"    seen['env'] = {{k: os.environ.get(k) for k in {sorted(POOL_SETTINGS)!r}}}\n"
        "    seen['pyarrow'] = 'pyarrow' in sys.modules\n"
        "    return 0\n"
        "cli.run_guarded = fake\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(seen))\n")
    env = {k: v for k, v in os.environ.items() if k not in POOL_SETTINGS}
    env.update(user or {})
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"env": {**POOL_SETTINGS, **(user or {})}, "pyarrow": False}


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
