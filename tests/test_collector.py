"""The cycle collector's settings while dumps are parsed (cdrnet/loader/collector.py)."""

from __future__ import annotations

import gc

import pytest

from cdrnet.loader import collector, ingest


def _threshold() -> int:
    return gc.get_threshold()[0]


def test_fewer_collections_raises_the_threshold_and_hands_everything_back() -> None:
    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    with collector.fewer_collections():
        assert _threshold() == collector.GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen_before  # what existed on entry is out of the passes
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_fewer_collections_hands_back_on_error() -> None:
    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), collector.fewer_collections():
        raise RuntimeError("a dump failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_garbage_made_inside_is_still_collected() -> None:
    """Frames of a committed dump form cycles: collect_dump_garbage frees them inside the context."""
    import weakref

    class Frame:
        pass

    with collector.fewer_collections():
        a, b = Frame(), Frame()
        a.other, b.other = b, a  # a cycle, as pandas frames and their columns make
        gone = weakref.ref(a)
        del a, b
        collector.collect_dump_garbage()
        assert gone() is None


def test_ingest_parses_under_the_settings(tmp_path, monkeypatch) -> None:
    seen: list[int] = []

    def fake_all(*args: object) -> ingest.IngestResult:
        seen.append(_threshold())
        return ingest.IngestResult()

    monkeypatch.setattr(ingest, "_ingest_all", fake_all)
    from cdrnet.workspace import Workspace

    before = gc.get_threshold()
    ingest.ingest_paths([], Workspace(tmp_path / "ws").create(), [], None, "modern", show_progress=False)
    assert seen == [collector.GC_YOUNG_THRESHOLD]
    assert gc.get_threshold() == before


def _worker_threshold() -> tuple[int, int]:
    return gc.get_threshold()[0], gc.get_freeze_count()


def test_worker_processes_start_with_the_settings() -> None:
    from cdrnet.loader.workers import worker_pool

    with worker_pool(2) as pool:
        threshold, frozen = pool.submit(_worker_threshold).result(timeout=120)
    assert threshold == collector.GC_YOUNG_THRESHOLD
    assert frozen > 0


def test_overlapping_runs_hand_the_settings_back_once_the_last_ends() -> None:
    """Two runs in two threads, ending in the order they started: the first's end must not hand
    the threshold back while the second still parses, and the second's end must."""
    import threading

    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def first() -> None:
        with collector.fewer_collections():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with collector.fewer_collections():
            second_in.set()
            first_out.wait(10)
            seen["after the first ended"] = _threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"after the first ended": collector.GC_YOUNG_THRESHOLD}
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before
