"""The parsing workers and their fork server (loader/workers.py) when the command is interrupted or
killed: Ctrl-C while the server imports prints no traceback, Ctrl-C still interrupts a worker, and
no worker nor server outlives a command killed without its ``finally`` (kill -9, the OOM killer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif("forkserver" not in __import__("multiprocessing").get_all_start_methods(),
                                reason="the workers' fork server is POSIX-only")

#: Starts the server as the command does, with a preload that takes a second (the real one takes
#: ~0.5 s), and sends it SIGINT as a terminal's Ctrl-C does (to every process of the group) while
#: it imports; then stops it.
INTERRUPTED_IMPORT = """
import multiprocessing, multiprocessing.forkserver as fs, os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a test may run with it ignored)
from cdrnet.loader import workers
multiprocessing.get_context("forkserver").set_forkserver_preload(["slow_preload"])
workers._start_server()
time.sleep(0.3)  # the server is in its preload's sleep
os.kill(fs._forkserver._forkserver_pid, signal.SIGINT)
workers.stop_fork_server()
print("stopped")
"""


def test_ctrl_c_while_the_server_imports_prints_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "slow_preload.py").write_text("import time\ntime.sleep(1.0)\n")
    # On PYTHONPATH: the server is a new interpreter (Python 3.11 ignores the sys.path handed to it).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT], capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stopped"
    assert "KeyboardInterrupt" not in out.stderr and "Traceback" not in out.stderr, out.stderr


#: A command run from a terminal (Python's SIGINT handler) or with SIGINT ignored (a script's
#: background job): what a worker does on SIGINT.
WORKER_SIGINT = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler if sys.argv[1] == "terminal" else signal.SIG_IGN)
from cdrnet.loader.workers import worker_pool

def handler():
    import signal
    return "interrupted" if signal.getsignal(signal.SIGINT) is signal.default_int_handler else "ignored"

if __name__ == "__main__":
    with worker_pool(2) as pool:
        print(pool.submit(handler).result(timeout=60))
"""


@pytest.mark.parametrize(("command", "worker"), [("terminal", "interrupted"), ("ignored", "ignored")])
def test_ctrl_c_interrupts_a_worker_as_it_does_the_command(tmp_path: Path, command: str, worker: str) -> None:
    """The server ignores SIGINT; its workers get Python's handler back (as spawned ones had),
    unless the command ignores it too."""
    script = tmp_path / "worker_sigint.py"
    script.write_text(WORKER_SIGINT)
    out = subprocess.run([sys.executable, str(script), command], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [worker]


#: A command that starts the pool, hands its workers a task each, prints their pids and the
#: server's, and is killed with SIGKILL (its ``finally`` never runs).
KILLED = """
import json, multiprocessing.forkserver as fs, os, signal, sys, time
from cdrnet.loader.workers import worker_pool
with worker_pool(2) as pool:
    list(pool.map(time.sleep, [0.2, 0.2]))
    print(json.dumps([*pool._processes, fs._forkserver._forkserver_pid]), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its new parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes' states from /proc")
def test_no_worker_nor_server_outlives_a_killed_command(tmp_path: Path) -> None:
    # Output to a file: a worker left running would hold a pipe open, and reading it never end.
    printed = tmp_path / "pids.json"
    with open(printed, "w") as fh:
        code = subprocess.run([sys.executable, "-c", KILLED], stdout=fh, timeout=120).returncode
    assert code == -signal.SIGKILL
    pids = json.loads(printed.read_text().strip().splitlines()[-1])
    assert len(pids) == 3
    deadline = time.monotonic() + 20
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if _running(p)]
    for pid in left:  # a failed check leaves nothing running behind it
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after the command was killed: {left}"
