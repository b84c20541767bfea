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
