"""The staging swap of graph/importer.py on plain folders (no server): a failure part-way through
the renames never leaves the old database's store beside another database's transaction logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdrnet.errors import GraphError
from cdrnet.graph.importer import ASIDE, STAGING, Swap


def _home(tmp_path: Path) -> Swap:
    home = tmp_path / "home"
    (home / "conf").mkdir(parents=True)
    (home / "conf" / "neo4j.conf").write_text(f"server.directories.data={home / 'data'}\n", encoding="utf-8")
    swap = Swap(home, "neo4j")
    for name, text in (("neo4j", "old"), (STAGING, "new")):
        for folder in swap.folders(name):
            folder.mkdir(parents=True)
            (folder / "store").write_text(text, encoding="utf-8")
    return swap


def _held(swap: Swap, name: str) -> list[str | None]:
    return [(f / "store").read_text(encoding="utf-8") if f.exists() else None for f in swap.folders(name)]


def test_a_rename_failing_between_the_two_folders_is_undone(tmp_path, monkeypatch):
    swap = _home(tmp_path)
    real = Path.rename
    tx_staged = swap.folders(STAGING)[1]

    def rename(self: Path, target: Path) -> Path:
        if self == tx_staged:
            raise OSError(28, "No space left on device")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError):
        swap.swap_in()
    assert swap.swapped  # the store folder was swapped: there is something to undo
    swap.rollback()
    swap.discard_staging()
    assert _held(swap, "neo4j") == ["old", "old"]
    assert _held(swap, "neo4j" + ASIDE) == [None, None]
    assert _held(swap, STAGING) == [None, None]


def test_a_missing_staged_folder_moves_nothing(tmp_path):
    swap = _home(tmp_path)
    for f in swap.folders(STAGING)[1:]:
        (f / "store").unlink()
        f.rmdir()
    with pytest.raises(GraphError, match="the importer left no"):
        swap.swap_in()
    assert not swap.swapped
    assert _held(swap, "neo4j") == ["old", "old"]


def test_swap_commit_and_rollback(tmp_path):
    swap = _home(tmp_path)
    swap.swap_in()
    assert _held(swap, "neo4j") == ["new", "new"] and _held(swap, "neo4j" + ASIDE) == ["old", "old"]
    swap.rollback()
    assert _held(swap, "neo4j") == ["old", "old"] and _held(swap, STAGING) == [None, None]
    swap = _home(tmp_path / "again")
    swap.swap_in()
    swap.commit()
    assert _held(swap, "neo4j") == ["new", "new"] and _held(swap, "neo4j" + ASIDE) == [None, None]


def test_a_database_without_folders_rolls_back_to_none(tmp_path):
    swap = _home(tmp_path)
    for f in swap.folders("neo4j"):
        (f / "store").unlink()
        f.rmdir()
    swap.swap_in()
    swap.rollback()
    assert _held(swap, "neo4j") == [None, None]


def test_a_failing_rollback_does_not_hide_why_the_import_failed(tmp_path, monkeypatch):
    """The count check fails after the swap and putting the old folders back fails too (a full disk):
    the user sees the count check's error, with the rollback's failure and what to do in its hint;
    the server is still started again (every restore step is tried)."""
    import cdrnet.graph.bulk as bulk
    from cdrnet.graph.bulk import ImportFiles, _import_and_swap

    swap = _home(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(bulk, "server_control", lambda *a: calls.append(a[1]))
    monkeypatch.setattr(bulk, "run_importer", lambda *a: calls.append(f"import ({len(a)} arguments)"))
    real = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if self.name.endswith(ASIDE):  # only the way back fails
            raise OSError(28, "No space left on device")
        return real(self, target)

    def after() -> dict[str, float]:
        monkeypatch.setattr(Path, "rename", rename)
        raise GraphError("the import wrote 3 Session nodes, the files hold 4", "run it again")

    with pytest.raises(GraphError) as caught:
        _import_and_swap(Path("neo4j-local"), swap.home, swap, ImportFiles(tmp_path / "files"), {}, after)
    assert str(caught.value) == "the import wrote 3 Session nodes, the files hold 4"
    assert caught.value.hint.startswith("run it again; putting the previous database back failed too (")
    assert "No space left on device" in caught.value.hint
    assert "the next bulk import into this server finishes putting the database back" in caught.value.hint
    # Which it does: the old store comes back, the journal goes.
    assert swap.interrupted()
    monkeypatch.setattr(Path, "rename", real)
    Swap(swap.home, "neo4j").recover()
    assert _held(swap, "neo4j") == ["old", "old"] and not swap.interrupted()
    assert _held(swap, "neo4j" + ASIDE) == [None, None]
    assert sorted(calls[:2]) == ["import (3 arguments)", "stop"]  # the server stops while the importer runs
    assert calls[2:] == ["start-bolt", "stop", "start"]  # Bolt first (the schema is built while HTTP starts)


def test_a_failing_restore_of_another_error_keeps_it_and_notes_why(tmp_path, monkeypatch):
    """Any exception (here Ctrl-C during the import) stays the one raised; a failed restart is noted on it."""
    import cdrnet.graph.bulk as bulk
    from cdrnet.graph.bulk import ImportFiles, _import_and_swap

    swap = _home(tmp_path)

    def control(script: Path, action: str) -> None:
        if action == "start":
            raise GraphError("neo4j-local start failed: port in use")

    def interrupted(home: Path, args: list[str], cwd: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bulk, "server_control", control)
    monkeypatch.setattr(bulk, "run_importer", interrupted)
    with pytest.raises(KeyboardInterrupt) as caught:
        _import_and_swap(Path("neo4j-local"), swap.home, swap, ImportFiles(tmp_path / "files"), {}, dict)
    assert any("starting the server failed too (neo4j-local start failed: port in use)" in n
               for n in caught.value.__notes__)
    assert _held(swap, "neo4j") == ["old", "old"] and _held(swap, STAGING) == [None, None]


def test_the_schema_is_built_while_http_starts_and_the_start_is_then_waited_for(tmp_path, monkeypatch):
    """After the swap the server is started up to Bolt only, ``after`` (schema, checks) runs, then the whole
    start is waited for (HTTP) before the old folders are deleted: a server whose HTTP never comes up still
    gets its old database back."""
    import cdrnet.graph.bulk as bulk
    from cdrnet.graph.bulk import ImportFiles, _import_and_swap

    for http_fails in (False, True):
        swap = _home(tmp_path / str(http_fails))
        calls: list[str] = []

        def control(script: Path, action: str, calls: list[str] = calls, fails: bool = http_fails) -> None:
            calls.append(action)
            if fails and action == "start" and "after" in calls and calls.count("start") == 1:
                raise GraphError("neo4j-local: error: Neo4j did not answer on HTTP within 180 s")

        def after(calls: list[str] = calls) -> dict[str, float]:
            calls.append("after")
            return {"constraints and indexes": 1.0}

        monkeypatch.setattr(bulk, "server_control", control)
        monkeypatch.setattr(bulk, "run_importer", lambda *_: None)
        steps: dict[str, float] = {}
        if http_fails:
            with pytest.raises(GraphError, match="did not answer on HTTP"):
                _import_and_swap(Path("neo4j-local"), swap.home, swap, ImportFiles(tmp_path / "f"), steps, after)
            assert calls == ["stop", "start-bolt", "after", "start", "stop", "start"]
            assert _held(swap, "neo4j") == ["old", "old"] and _held(swap, "neo4j" + ASIDE) == [None, None]
        else:
            _import_and_swap(Path("neo4j-local"), swap.home, swap, ImportFiles(tmp_path / "f"), steps, after)
            assert calls == ["stop", "start-bolt", "after", "start"]
            assert _held(swap, "neo4j") == ["new", "new"] and _held(swap, "neo4j" + ASIDE) == [None, None]
            assert list(steps)[-3:] == ["starting the server", "constraints and indexes",
                                        "waiting for the server's HTTP"]
        assert not swap.interrupted()


class Killed(BaseException):
    """The process dying at a file-system step (nothing after it runs)."""


def _kill_at(monkeypatch, k: int) -> list[str]:
    """Make the k-th rename, replace or tree deletion of the swap die (a deletion dies half done)."""
    import os
    import shutil

    done: list[str] = []
    real_rename, real_replace, real_rmtree = Path.rename, os.replace, shutil.rmtree

    def step(name: str) -> None:
        done.append(name)
        if len(done) == k:
            raise Killed(name)

    def rename(self: Path, target: Path) -> Path:
        step(f"rename {self.name}")
        return real_rename(self, target)

    def replace(src, dst) -> None:  # noqa: ANN001 - os.replace's own signature
        step("journal")
        real_replace(src, dst)

    def rmtree(path, ignore_errors: bool = False) -> None:  # noqa: ANN001, FBT001, FBT002 - as shutil's
        if Path(path).exists() and len(done) + 1 == k:
            for f in Path(path).iterdir():  # half deleted
                f.unlink()
        step(f"rmtree {Path(path).name}")
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(Path, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    return done


@pytest.mark.parametrize("old_exists", [True, False])
@pytest.mark.parametrize("ending", ["rollback", "commit"])
def test_a_swap_killed_at_any_step_is_recovered_by_the_next_import(tmp_path, monkeypatch, ending, old_exists):
    """Killed at each step of the swap and of its rollback or commit, the next import's recovery leaves
    the old database whole (the new one only once the commit had begun), nothing staged or aside, and
    never deletes a folder of the old database before the commit."""
    k = 1
    while True:
        swap = _home(tmp_path / f"k{k}")
        if not old_exists:
            for f in swap.folders("neo4j"):
                (f / "store").unlink()
                f.rmdir()
        with monkeypatch.context() as m:
            done = _kill_at(m, k)
            try:
                swap.swap_in()
                swap.rollback() if ending == "rollback" else swap.commit()
                killed = False
            except Killed:
                killed = True
        # The commit is decided once its journal entry is written (the 4th journal write, completed).
        completed = done[:-1] if killed else done
        committing = ending == "commit" and completed.count("journal") >= 4
        fresh = Swap(swap.home, "neo4j")
        if killed:
            assert fresh.interrupted() or _held(fresh, "neo4j") in (["old", "old"], [None, None]), done
            fresh.recover()
        old = ["old", "old"] if old_exists else [None, None]
        want = ["new", "new"] if committing else old
        assert _held(fresh, "neo4j") == want, (k, done)
        assert _held(fresh, "neo4j" + ASIDE) == [None, None] and not fresh.interrupted(), (k, done)
        if killed and not committing:
            fresh.discard_staging()  # what the next import's importer overwrites anyway
        if not killed:
            break
        k += 1
    assert k > 6  # every step was tried


def test_the_next_import_recovers_with_the_server_stopped(tmp_path, monkeypatch):
    """bulk_load's first step: an interrupted swap is undone between a stop and a start of the server,
    and said so in the steps it prints; with nothing to recover the server is not touched."""
    import cdrnet.graph.bulk as bulk

    swap = _home(tmp_path)
    calls: list[str] = []

    def control(script: Path, action: str) -> None:
        calls.append(f"{action}: {_held(swap, 'neo4j')}")

    monkeypatch.setattr(bulk, "server_control", control)
    assert bulk.recover_interrupted(Path("neo4j-local"), swap) == {} and calls == []
    swap.swap_in()  # then the process dies: the new database is in place, the old one aside
    steps = bulk.recover_interrupted(Path("neo4j-local"), Swap(swap.home, "neo4j"))
    assert calls == ["stop: ['new', 'new']", "start: ['old', 'old']"]
    assert list(steps) == ["recovering an interrupted import: the interrupted import was undone: the database is "
                           "back as it was"]
    assert not swap.interrupted() and _held(swap, STAGING) == [None, None]


def test_folders_aside_without_a_journal_are_still_refused(tmp_path):
    """An earlier version's interrupted swap (no journal): which folder came from where is unknown, so
    nothing is moved or deleted and the user is told what to do, as before."""
    swap = _home(tmp_path)
    swap.swap_in()
    swap.journal().unlink()
    with pytest.raises(GraphError, match="an earlier bulk import was interrupted during its swap"):
        Swap(swap.home, "neo4j").recover()
    assert _held(swap, "neo4j") == ["new", "new"] and _held(swap, "neo4j" + ASIDE) == ["old", "old"]
