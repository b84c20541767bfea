"""Issue 19, class 7: concurrency and the file system.

Two ingests at once, a busy workspace, a full disk and a read-only workspace (a tiny tmpfs when
the tests may mount one, else the same failure injected where cdrnet writes), damaged or missing
workspace files, a workspace of another format, and re-ingesting a dump with other options.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.synth.writers import write_dump
from cdrnet.workspace import WORKSPACE_FORMAT, Workspace
from tests.conftest import SIM_ORDER, make_sessions, run_cli

BUSY_HINT = "hint: wait until the other command finishes, then run this one again (nothing was changed)"
STORAGE_HINT = ("hint: free disk space or make the folder writable, then run the command again; "
                "nothing half-written was kept")


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name]


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("case")
    simulate(build_scenario("easy", subscribers=8, days=3, seed=11), root / "case")
    dumps = sorted((root / "case" / "dumps").iterdir())
    for k, half in enumerate((dumps[:4], dumps[4:])):
        (root / f"half{k}").mkdir()
        for f in half:
            (root / f"half{k}" / f.name).write_bytes(f.read_bytes())
    return root


def cdrnet(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cdrnet", "-q", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen) -> tuple[int, str, str]:
    """(exit code, stdout, stderr): read both pipes to the end first, so a command that writes
    more than a pipe holds never blocks while we wait for it."""
    out, err = p.communicate()
    return p.returncode, out, err


def test_two_ingests_at_once_never_lose_a_dump(case, tmp_path):
    """Two processes ingest different halves of a case into one workspace at the same moment, five
    times over: each either loads its dumps or is told the workspace is busy (and loads them when
    run again). Every dump ends up loaded once, and no temporary file is left."""
    for attempt in range(5):
        ws = tmp_path / f"ws{attempt}"
        procs = [cdrnet("-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / f"half{k}")) for k in (0, 1)]
        outcomes = [finish(p) for p in procs]
        for k, (code, _out, err) in enumerate(outcomes):
            if code != 0:
                assert re.search(r"^error: workspace .* is busy: 'ingest' \(process \d+, since .*\) is writing to it$",
                                 err, re.MULTILINE), err
                assert BUSY_HINT in err.splitlines()
                again = cdrnet("-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / f"half{k}"))
                code, out, err = finish(again)
                assert code == 0, (out, err)
        reports = Workspace(ws).reports()
        assert len(reports) == 8 and len({r.sha256 for r in reports}) == 8
        assert sum(r.loaded for r in reports) == len(Workspace(ws).sessions(dedupe=False))
        assert temporaries(ws) == []


def test_a_busy_workspace_is_refused_with_one_line(case, tmp_path, capsys):
    ws = tmp_path / "ws"
    Workspace(ws).create()
    # The holder keeps the lock until the test closes its stdin (or kills it), not for a fixed time a
    # loaded machine could outlast.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from cdrnet.lockfile import exclusive\n"
        f"with exclusive(Path({str(ws)!r}), 'ingest'):\n"
        "    print('held', flush=True); sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half0"))
        assert code == 1
        lines = err.splitlines()
        assert len(lines) == 2 and lines[1] == BUSY_HINT
        assert re.fullmatch(rf"error: workspace {re.escape(str(ws.resolve()))} is busy: 'ingest' "
                            rf"\(process {holder.pid}, since \d{{4}}-\d\d-\d\dT[\d:]+\+00:00\) is writing to it",
                            lines[0]), lines[0]
        assert Workspace(ws).reports() == []
        # Readers take no lock.
        code, out, _ = run_cli(capsys, "-w", str(ws), "dumps")
        assert code == 0 and "holds no dumps" in out
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half0"))
    assert code == 0, err  # a killed holder releases the lock at once


def _holder_acts_on_first_retry(monkeypatch: pytest.MonkeyPatch, act) -> list[float]:
    """Run ``act`` where the refused command first pauses to retry, instead of after a fixed delay
    in another process or thread (which a loaded machine can stretch past the command's wait)."""
    import types

    from cdrnet import lockfile

    pauses: list[float] = []

    def pause(seconds: float) -> None:
        if not pauses:
            act()
        pauses.append(seconds)

    monkeypatch.setattr(lockfile, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=pause))
    return pauses


def test_a_command_refused_before_the_holder_names_itself_still_names_it(tmp_path, monkeypatch):
    """The holder takes the lock, then writes its name: a command refused in that window (CI
    caught one) waits for the name instead of saying "another cdrnet command"."""
    import fcntl

    from cdrnet.errors import WorkspaceBusyError
    from cdrnet.lockfile import LOCK_NAME, exclusive

    with open(tmp_path / LOCK_NAME, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked, nothing written yet
        pauses = _holder_acts_on_first_retry(
            monkeypatch, lambda: (tmp_path / LOCK_NAME).write_text("'ingest' (process 7, since now)"))
        with pytest.raises(WorkspaceBusyError, match=r"is busy: 'ingest' \(process 7, since now\) is writing"):
            with exclusive(tmp_path, "ingest"):
                pass
        assert len(pauses) == 1  # it found the file empty once, then read the name


def test_a_command_refused_by_a_silent_holder_gives_up_and_says_so(tmp_path, monkeypatch):
    """A holder that never writes its name (an older cdrnet, another tool) is named generically once
    the wait is over, rather than blocking the command."""
    import fcntl

    from cdrnet import lockfile
    from cdrnet.errors import WorkspaceBusyError
    from cdrnet.lockfile import LOCK_NAME, exclusive

    monkeypatch.setattr(lockfile, "HOLDER_WAIT_S", 0.1)
    with open(tmp_path / LOCK_NAME, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(WorkspaceBusyError, match=r"is busy: another cdrnet command is writing to it"):
            with exclusive(tmp_path, "ingest"):
                pass


def test_the_lock_file_names_no_one_once_the_holder_has_ended(tmp_path):
    from cdrnet.lockfile import LOCK_NAME, exclusive

    with exclusive(tmp_path, "ingest"):
        assert "'ingest' (process" in (tmp_path / LOCK_NAME).read_text()
    assert (tmp_path / LOCK_NAME).read_text() == ""
    with pytest.raises(RuntimeError), exclusive(tmp_path, "ingest"):
        raise RuntimeError("a command that fails still lets go and clears its name")
    assert (tmp_path / LOCK_NAME).read_text() == ""


def test_a_command_refused_as_the_holder_lets_go_takes_the_lock(tmp_path, monkeypatch):
    """The holder clears its name just before it lets go; a command that finds the lock taken
    and the file empty retries, and gets the lock once the holder has gone."""
    import fcntl

    from cdrnet.lockfile import LOCK_NAME, exclusive

    fh = open(tmp_path / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - closed by the "holder" below
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    pauses = _holder_acts_on_first_retry(monkeypatch, fh.close)  # lets go with its name already cleared
    with exclusive(tmp_path, "link"):
        assert "'link' (process" in (tmp_path / LOCK_NAME).read_text()
    assert len(pauses) == 1 and fh.closed


@contextmanager
def tiny_tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path`` when this process may mount one (root with the capability);
    False otherwise, and the test injects the same failure where cdrnet writes."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = False
    if size and os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                 capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=True)


def _big_dump(tmp_path: Path) -> Path:
    s = make_sessions(6000, seed=3)
    return write_dump(s, "paper", tmp_path / "big.csv")


@pytest.mark.parametrize("how", ["tmpfs", "injected"])
def test_a_full_disk_gives_one_line_and_leaves_nothing_behind(tmp_path, capsys, monkeypatch, how):
    dump = _big_dump(tmp_path)
    with tiny_tmpfs(tmp_path / "disk", "64k" if how == "tmpfs" else "") as mounted:
        if not mounted:
            def full(*_a, **_k):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
        ws = tmp_path / "disk" / "ws"
        code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", "dmy", str(dump))
        assert code == 1
        lines = err.splitlines()
        assert len(lines) == 2 and lines[1] == STORAGE_HINT, err
        assert re.fullmatch(rf"error: cannot write {re.escape(str(ws))}/\S+: No space left on device",
                            lines[0]), lines[0]
        assert "Traceback" not in out + err
        assert temporaries(ws) == [] and list((ws / "dumps").glob("*.json")) == []
        code, out, _ = run_cli(capsys, "-w", str(ws), "dumps")
        assert code == 0 and "holds no dumps" in out


@pytest.mark.parametrize("how", ["tmpfs", "injected"])
def test_a_read_only_workspace_gives_one_line(case, tmp_path, capsys, monkeypatch, how):
    with tiny_tmpfs(tmp_path / "ro", "16m" if how == "tmpfs" else "") as mounted:
        ws = tmp_path / "ro" / "ws"
        code, _, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half0"))
        assert code == 0, err
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / "ro")], check=True)
        else:
            def read_only(path, *_a, **_k):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

            monkeypatch.setattr("cdrnet.lockfile.open", read_only, raising=False)
            monkeypatch.setattr("cdrnet.files.open", read_only, raising=False)
        code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half1"))
        assert code == 1 and err.splitlines() == [
            f"error: cannot write {ws / '.cdrnet.lock'}: Read-only file system", STORAGE_HINT]
        code, out, err = run_cli(capsys, "-w", str(ws), "link")
        assert code == 1 and err.splitlines() == [
            f"error: cannot write {ws / 'edges.csv'}: Read-only file system", STORAGE_HINT]
        code, out, _ = run_cli(capsys, "-w", str(ws), "dumps")
        assert code == 0 and "4 dump(s)" in out
        assert temporaries(ws) == []


@pytest.fixture
def loaded(case, tmp_path, capsys) -> tuple[Path, list]:
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half0"))
    assert code == 0, err
    return ws, Workspace(ws).reports()


def test_a_truncated_report_is_named_and_repaired_by_ingesting_again(case, loaded, capsys):
    ws, reports = loaded
    rep = reports[1]
    path = ws / "dumps" / f"{rep.sha256}.json"
    path.write_bytes(path.read_bytes()[:100])
    code, out, err = run_cli(capsys, "-w", str(ws), "dumps")
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith(f"error: workspace {ws}: the report {rep.sha256}.json is damaged (")
    assert lines[1] == (f"hint: ingest the original file again to repair it (its SHA-256 is {rep.sha256}), "
                        f"or delete dumps/{rep.sha256}.* to drop it")
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, rep.name)
    assert code == 0 and "1 dump(s) loaded" in out, err
    assert [r.loaded for r in Workspace(ws).reports() if r.sha256 == rep.sha256] == [rep.loaded]


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_truncated_parquet_is_named_and_repaired(case, loaded, capsys, damage):
    ws, reports = loaded
    rep = reports[0]
    path = ws / "dumps" / f"{rep.sha256}.parquet"
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code, out, err = run_cli(capsys, "-w", str(ws), "link")
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2, err
    if damage == "missing":
        assert lines == [f"error: workspace {ws}: the sessions of {rep.name} are missing "
                         f"({rep.sha256}.parquet does not exist)",
                         f"hint: ingest {rep.name} again to repair it (cdrnet ingest FILE)"]
    else:
        assert lines[0].startswith(f"error: workspace {ws}: the sessions file {rep.sha256}.parquet is damaged (")
        assert lines[1] == f"hint: ingest the original file again to repair it (its SHA-256 is {rep.sha256})"
    assert not (ws / "edges.csv").exists()
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half0"))
    assert code == 0 and "1 dump(s) loaded" in out and "3 unchanged" in out, out + err
    code, out, err = run_cli(capsys, "-w", str(ws), "link")
    assert code == 0, err


def test_the_workspace_records_its_format_and_refuses_another(case, loaded, capsys):
    ws, _ = loaded
    assert json.loads((ws / "workspace.json").read_text())["format"] == WORKSPACE_FORMAT
    (ws / "workspace.json").write_text(json.dumps({"format": 99, "created_by": "cdrnet 9.9"}))
    for args in (["dumps"], ["link"], ["ingest", "--date-order", SIM_ORDER, str(case / "half1")]):
        code, out, err = run_cli(capsys, "-w", str(ws), *args)
        assert code == 1 and err.splitlines() == [
            f"error: workspace {ws} has format 99 (cdrnet 9.9); this cdrnet 0.1.0 reads format {WORKSPACE_FORMAT}",
            "hint: use the cdrnet version that wrote it, or ingest the original files into a new workspace"], args
    # A workspace from before the record (no workspace.json) is format 1 and gets the record.
    (ws / "workspace.json").unlink()
    code, out, err = run_cli(capsys, "-w", str(ws), "dumps")
    assert code == 0 and "4 dump(s)" in out
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, str(case / "half1"))
    assert code == 0, err
    assert json.loads((ws / "workspace.json").read_text())["format"] == WORKSPACE_FORMAT


def test_reingesting_with_other_options_says_what_differs_and_replace_rereads(case, loaded, capsys):
    ws, reports = loaded
    rep = reports[0]
    before = {p.name: p.read_bytes() for p in (ws / "dumps").iterdir()}
    starts = Workspace(ws).sessions(msisdns=rep.msisdns)["start_utc"].sort_values().reset_index(drop=True)
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", "mdy", "--tz", "Europe/London",
                             rep.name)
    assert code == 1
    assert err.splitlines() == [
        rep.name, f"  already loaded (sha256 {rep.sha256}) with other options: --tz Asia/Kolkata -> Europe/London; "
                  "--date-order dmy (option) -> mdy; nothing changed",
        "hint: add --replace to read them again with these options (their rows, rejects and counts are replaced)"]
    assert "0 dump(s) loaded (0 sessions, 0 rejected rows), 1 unchanged" in out
    assert {p.name: p.read_bytes() for p in (ws / "dumps").iterdir()} == before
    time.sleep(1)  # a new ingest time
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", SIM_ORDER, "--tz", "Europe/London",
                             "--replace", rep.name)
    assert code == 0, err
    assert "1 dump(s) loaded" in out and "1 replacing an earlier load" in out
    now = Workspace(ws)
    new = next(r for r in now.reports() if r.sha256 == rep.sha256)
    assert new.read_options["tz"] == "Europe/London" and new.ingested_at > rep.ingested_at
    # Read again, the dump keeps its place in the ingest order (whose copy of a shared session is kept).
    assert rep.first_ingested_at == rep.ingested_at and new.first_ingested_at == rep.first_ingested_at
    assert new.loaded == rep.loaded and new.rejected == rep.rejected and len(now.reports()) == 4
    moved = now.sessions(msisdns=rep.msisdns)["start_utc"].sort_values().reset_index(drop=True)
    assert len(moved) == len(starts)
    # Asia/Kolkata is UTC+5:30, London in March UTC+0: the same wall clock is 5.5 hours later in UTC.
    assert ((moved - starts) == pd.Timedelta(hours=5, minutes=30)).all()
    assert temporaries(ws) == []
