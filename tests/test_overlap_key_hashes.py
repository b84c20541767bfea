"""The overlap check's key hashes: kept per dump during an ingest batch, the same as read from Parquet.

Every part file of a subscriber asks for the other parts' key hashes; inside a batch each
dump's are read once (Workspace._dump_key_hashes). The answers must be those read afresh,
a dump read again must not be answered from the old hashes, and past the memory bound the
hashes are read as before.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet import workspace as wsm
from cdrnet.loader.ingest import count_known
from cdrnet.loader.normalize import key_hash_of
from cdrnet.synth.writers import render
from tests.conftest import ingest, make_sessions


def _fresh(ws: wsm.Workspace, sha: str) -> np.ndarray:
    return key_hash_of(pq.read_table(ws.dumps_dir / f"{sha}.parquet", columns=["session_key"]).column(0))


@pytest.fixture
def parquet_opens(monkeypatch) -> list[str]:
    """The paths the workspace opens with ``pq.ParquetFile`` from now on (the files it reads back)."""
    opened: list[str] = []
    real = pq.ParquetFile

    def counting(path, *a, **k):
        opened.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(wsm.pq, "ParquetFile", counting)
    return opened


@pytest.fixture
def three_parts(ws, tmp_path):
    s = make_sessions(12)
    for name, rows in (("a", s.iloc[:6]), ("b", s.iloc[4:10]), ("c", s.iloc[8:])):
        (tmp_path / f"{name}.csv").write_text(render(rows, "paper"))
    res = ingest(ws, *(tmp_path / f"{n}.csv" for n in "abc"))
    assert [r.duplicates_of_other_dumps for r in res.loaded] == [0, 2, 2]
    return ws, res.loaded


def test_batch_answers_equal_fresh_reads_and_read_each_dump_once(three_parts, parquet_opens):
    ws, reports = three_parts
    outside = {r.sha256: ws.session_key_hashes(exclude=r.sha256, msisdns=r.msisdns) for r in reports}
    opened = parquet_opens
    opened.clear()  # count the batch's reads only
    with ws.ingest_batch():
        for _ in range(2):
            for r in reports:
                got = ws.session_key_hashes(exclude=r.sha256, msisdns=r.msisdns)
                assert np.array_equal(got, outside[r.sha256])
                others = ws.reports(exclude=r.sha256)
                assert np.array_equal(got, np.concatenate([_fresh(ws, o.sha256) for o in others]))
    assert sorted(opened) == sorted({*opened}) and len(opened) == 3  # each dump's file once
    assert ws._key_hashes == {} and ws._key_hashes_held == 0  # the batch let go of them


def test_past_the_bound_hashes_are_read_again(three_parts, monkeypatch):
    ws, reports = three_parts
    monkeypatch.setattr(wsm, "KEY_HASHES_HELD", 3)  # fewer than any dump's sessions (4 to 6)
    with ws.ingest_batch():
        first = [ws.session_key_hashes(exclude=r.sha256) for r in reports]
        assert ws._key_hashes == {}
        for a, r in zip(first, reports, strict=True):
            assert np.array_equal(a, ws.session_key_hashes(exclude=r.sha256))


def test_a_dump_read_again_is_not_answered_from_its_old_hashes(ws, tmp_path):
    s = make_sessions(10)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(render(s.iloc[:6], "paper"))
    b.write_text(render(s.iloc[3:], "paper"))
    with ws.ingest_batch():
        ingest(ws, a, b)
        sha_a = ws.reports()[0].sha256
        sha_b = ws.reports()[1].sha256
        before = ws.session_key_hashes(exclude=sha_b)
        # Held from the duplicate filter when each dump was published: the file's set, sorted.
        assert np.array_equal(before, np.sort(_fresh(ws, sha_a))) and sha_a in ws._key_hashes
        # The same dump published again (as ``ingest --replace`` does) drops what was held for it.
        ws._forget_key_hashes(sha_a)
        assert sha_a not in ws._key_hashes
        assert np.array_equal(ws.session_key_hashes(exclude=sha_b), _fresh(ws, sha_a))


def test_published_dumps_hold_the_hashes_their_files_hold_without_reading_them(ws, tmp_path, parquet_opens):
    """Inside a batch a published dump's key hashes come from its duplicate filter: the same set its
    Parquet file holds (the overlap check counts members, so order does not matter), and no file is
    opened for them."""
    s = make_sessions(30)
    paths = []
    for name, rows in (("a", s.iloc[:12]), ("b", s.iloc[8:22]), ("c", s.iloc[20:])):
        path = tmp_path / f"{name}.csv"
        path.write_text(render(rows, "paper"))
        paths.append(path)
    with ws.ingest_batch():
        res = ingest(ws, *paths)
        assert [r.duplicates_of_other_dumps for r in res.loaded] == [0, 4, 2]
        assert parquet_opens == []
        for r in res.loaded:
            assert np.array_equal(ws._key_hashes[r.sha256], np.sort(_fresh(ws, r.sha256)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), unique=True), st.lists(st.integers(0, 60)))
def test_count_known_equals_isin(seen, others):
    """The overlap count by binary search equals numpy's ``isin`` on any sorted distinct ``seen``."""
    a = np.array(sorted(seen), dtype=np.uint64)
    b = np.array(others, dtype=np.uint64)
    assert count_known(a, b) == int(np.isin(a, b).sum())
