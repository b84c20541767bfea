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
    assert f"neo4j{ASIDE}" in caught.value.hint
    assert sorted(calls[:2]) == ["import (3 arguments)", "stop"]  # the server stops while the importer runs
    assert calls[2:] == ["start", "stop", "start"]
    # Nothing the import did not create was deleted: the old store is still aside, whole.
    assert _held(swap, "neo4j" + ASIDE)[0] == "old"


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
