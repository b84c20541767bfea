"""The command line keeps freed memory in Arrow's pool (cdrnet/allocator.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cdrnet.allocator import PURGE_DELAY, keep_freed_memory


def test_keep_freed_memory_sets_the_delay_and_keeps_a_users(monkeypatch) -> None:
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    keep_freed_memory()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == PURGE_DELAY == "-1"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    keep_freed_memory()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250"


@pytest.mark.parametrize("user", [None, "250"])
def test_the_command_line_sets_it_before_pyarrow_loads(user: str | None) -> None:
    """The console entry point runs a command with the setting in place and pyarrow not yet
    loaded (mimalloc reads it when pyarrow loads)."""
    probe = (
        "import json, os, sys\n"
        "import cdrnet.cli as cli\n"
        "seen = {}\n"
        "def fake(command):\n"
        "    seen['delay'] = os.environ.get('MIMALLOC_PURGE_DELAY')\n"
        "    seen['pyarrow'] = 'pyarrow' in sys.modules\n"
        "    return 0\n"
        "cli.run_guarded = fake\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(seen))\n")
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    if user is not None:
        env["MIMALLOC_PURGE_DELAY"] = user
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"delay": user or PURGE_DELAY, "pyarrow": False}
