"""The link's fast paths give what their reference paths give (the edges must not move).

``_reduce_dense`` (tables indexed by pair and (pair, key)) against ``_reduce_grouped``
(pandas groupby, the path of very large cases); ``window_runs`` against ``window_pairs`` and
brute force; the burst order against the four-key lexsort; and whole ``link`` runs with the
dense reduction switched off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.analysis import cousage
from cdrnet.analysis.cousage import LinkParams, _reduce_dense, _reduce_grouped, link
from cdrnet.analysis.sweep import window_pairs, window_runs
from cdrnet.analysis.units import _burst_order
from tests.helpers import fortnight, frame, sess


def _chunks(rng: np.random.Generator, n: int, n_keys: int, sizes: list[int], lo_form: bool) -> list[dict]:
    out = []
    for size in sizes:
        x, y = rng.integers(0, n, size), rng.integers(0, n, size)
        keep = x != y
        a, b = np.minimum(x, y)[keep], np.maximum(x, y)[keep]
        t1 = rng.integers(0, 2000, len(a))
        t2 = t1 + rng.integers(0, 200, len(a))
        key = rng.integers(0, n_keys, len(a))
        if lo_form:
            out.append({"a": a, "b": b, "key": key, "lo": t1, "hi": t2})
        else:  # the call channel's DataFrame chunks: the times in either order
            swap = rng.random(len(a)) < 0.5
            out.append(pd.DataFrame({"a": a, "b": b, "key": key, "ta": np.where(swap, t2, t1),
                                     "tb": np.where(swap, t1, t2)}))
    return out


def _same(got: tuple | None, want: tuple | None) -> None:
    assert (got is None) == (want is None)
    if got is None:
        return
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    key = ["a", "b", "key"]
    pd.testing.assert_frame_equal(got[1].sort_values(key).reset_index(drop=True),
                                  want[1].sort_values(key).reset_index(drop=True), check_exact=True, check_dtype=False)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 12), n_keys=st.integers(1, 6),
       sizes=st.lists(st.integers(0, 300), max_size=4), tight=st.one_of(st.none(), st.integers(0, 120)),
       lo_form=st.booleans(), dense_keys=st.booleans())
@settings(max_examples=150, deadline=None)
def test_dense_reduction_equals_groupby(seed, n, n_keys, sizes, tight, lo_form, dense_keys):
    chunks = _chunks(np.random.default_rng(seed), n, n_keys, sizes, lo_form)
    with pytest.MonkeyPatch.context() as mp:
        # Without room for the (pair, key) table, its counts go through value_counts instead.
        mp.setattr(cousage, "DENSE_MAX_CELLS", (1 << 24) if dense_keys else n * n)
        _same(_reduce_dense(iter(chunks), n, n_keys, tight), _reduce_grouped(iter(chunks), n, n_keys, tight))


@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 200), window=st.integers(0, 150),
       overlap=st.booleans())
@settings(max_examples=150, deadline=None)
def test_window_runs_are_window_pairs(seed, size, window, overlap):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cdrnet.analysis.sweep.CHUNK_PAIRS", 50)  # several chunks
        _check_runs(seed, size, window, overlap)


def _check_runs(seed: int, size: int, window: int, overlap: bool) -> None:
    rng = np.random.default_rng(seed)
    key = np.sort(rng.integers(0, 3, size))
    t = np.concatenate([np.sort(rng.integers(0, 3000, (key == k).sum())) for k in range(3)]).astype(np.int64)
    t_end = t + rng.integers(0, 300, size) if overlap else None
    runs = [(np.repeat(u, c), j) for u, c, j in window_runs(key, t, window, t_end=t_end)]
    pairs = list(window_pairs(key, t, window, t_end=t_end))
    assert len(runs) == len(pairs)
    for (i1, j1), (i2, j2) in zip(runs, pairs, strict=True):
        assert np.array_equal(i1, i2) and np.array_equal(j1, j2)
    got = {(int(i), int(j)) for i, j in zip(np.concatenate([p[0] for p in pairs] or [[]]),
                                            np.concatenate([p[1] for p in pairs] or [[]]), strict=True)}
    reach = t_end if overlap else t + window
    want = {(i, j) for i in range(size) for j in range(i + 1, size) if key[i] == key[j] and t[j] <= reach[i]}
    assert got == want


@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 300), huge=st.booleans())
@settings(max_examples=100, deadline=None)
def test_burst_order_is_the_four_key_lexsort(seed, size, huge):
    rng = np.random.default_rng(seed)
    m, k = rng.integers(0, 5, size), rng.integers(0, 4, size)
    t = rng.integers(0, 50, size).astype(np.int64) * (1 << 40 if huge else 1)  # huge: no room for one number
    tie = rng.integers(0, 3, size).astype(np.uint64)
    assert np.array_equal(_burst_order(m, k, t, tie), np.lexsort((tie, t, k, m)))


def _random_case(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subs = [f"9198000000{i:02d}" for i in range(8)]
    rows = []
    for _ in range(400):
        day = int(rng.integers(0, 10))
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day, seconds=int(rng.integers(0, 3000)))
        app = str(rng.choice(["wa", "meta", "tg", "call", "web"]))
        rows.append(sess(str(rng.choice(subs)), str(start), app=app, cell=str(rng.choice(["", "c1", "c2", "c3"])),
                         dur=int(rng.integers(1, 200))))
    return frame(rows)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("mode", ["start", "overlap"])
def test_link_edges_do_not_depend_on_the_reduction(monkeypatch, seed, mode):
    f = _random_case(seed)
    fast = link(f, LinkParams(mode=mode), coverage=fortnight(f)).edges
    monkeypatch.setattr(cousage, "DENSE_MAX_CELLS", 0)
    slow = link(f, LinkParams(mode=mode), coverage=fortnight(f)).edges
    assert len(fast) > 0
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
