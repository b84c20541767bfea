"""loader/dedupe.HashSet: the per-dump "seen before?" sets of raw-row and record-key hashes.

It replaced ``np.union1d`` per block (which re-hashed every earlier block); the answers must
be a plain set's, whatever the order of adds and questions.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.loader.dedupe import HashSet

hashes = st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=30)
#: A block is added, or asked about first and then added (as the parser does), or only asked.
steps = st.lists(st.tuples(st.sampled_from(["add", "ask_then_add", "ask"]), hashes), max_size=12)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_answers_as_a_python_set(ops: list[tuple[str, list[int]]]) -> None:
    seen: set[int] = set()
    hs = HashSet()
    for op, block in ops:
        arr = np.array(block, dtype=np.uint64)
        if op != "add":
            assert hs.contains(arr).tolist() == [h in seen for h in block]
        if op != "ask":
            hs.add(arr)
            seen.update(block)
    probe = sorted(seen) + [0, 2**64 - 1, 12345]
    assert hs.contains(np.array(probe, dtype=np.uint64)).tolist() == [h in seen for h in probe]


def test_empty_and_extremes() -> None:
    hs = HashSet()
    assert hs.contains(np.zeros(0, dtype=np.uint64)).tolist() == []
    assert hs.contains(np.array([0, 2**64 - 1], dtype=np.uint64)).tolist() == [False, False]
    hs.add(np.zeros(0, dtype=np.uint64))
    hs.add(np.array([2**64 - 1, 2**64 - 1], dtype=np.uint64))
    assert hs.contains(np.array([0, 2**64 - 1, 2**64 - 2], dtype=np.uint64)).tolist() == [False, True, False]


#: Key hashes as the normaliser makes them (spread over 64 bits), and structured ones the kernel's
#: table must place as well: small integers, 0 (no table slot holds it), a constant top bit.
_key_hash = st.one_of(st.integers(min_value=0, max_value=40).map(lambda h: h * 0x9E3779B97F4A7C15 % 2**64),
                      st.integers(min_value=0, max_value=40),
                      st.integers(min_value=0, max_value=40).map(lambda h: 2**63 + h))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_key_hash, max_size=30), max_size=8), st.booleans(), st.sampled_from([2, 4, 1 << 16]))
def test_duplicate_filter_keeps_each_key_once_in_row_order(blocks: list[list[int]], kernel: bool,
                                                           first_slots: int) -> None:
    """DuplicateFilter keeps a row when its key hash was not seen in an earlier block nor earlier in
    its own, and drops the rest by line, as a set would: with the kernel's hash table (grown from a
    table of 2 or 4 slots here, to grow often) and with the pure path's sorted array."""
    import pandas as pd

    from cdrnet.loader import native
    from cdrnet.loader.dedupe import DuplicateFilter

    seen: set[int] = set()
    dup = DuplicateFilter()
    dup._native = kernel and native.KERNEL is not None  # noqa: SLF001 - both paths, one reference
    dup.FIRST_SLOTS = first_slots
    line = 0
    for block in blocks:
        lines = np.arange(line, line + len(block), dtype=np.int64)
        line += len(block)
        kept, dropped = dup(pd.DataFrame({"source_line": lines}), np.array(block, dtype=np.uint64))
        want = []
        for h in block:
            want.append(h not in seen)
            seen.add(h)
        assert kept["source_line"].tolist() == lines[np.array(want, dtype=bool)].tolist()
        assert dropped.tolist() == lines[~np.array(want, dtype=bool)].tolist()
        assert dup.seen.tolist() == sorted(seen)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=300), st.booleans())
def test_sorted_firsts_is_the_stable_sort(values: list[int], narrow: bool) -> None:
    """The duplicate filter's sort (numpy's unstable argsort, the stable one only for a block with
    equal hashes) gives exactly the stable order, and marks the first of each value."""
    from cdrnet.loader.dedupe import _sorted_firsts

    key_hash = np.array([v % 7 if narrow else v for v in values], dtype=np.uint64)
    order, ordered, firsts = _sorted_firsts(key_hash)
    stable = np.argsort(key_hash, kind="stable")
    assert order.tolist() == stable.tolist()
    assert ordered.tolist() == key_hash[stable].tolist()
    assert firsts.tolist() == [i == 0 or ordered[i] != ordered[i - 1] for i in range(len(ordered))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_key_hash, max_size=30), max_size=8), st.booleans())
def test_first_seen_answers_as_a_set_in_the_order_given(blocks: list[list[int]], kernel: bool) -> None:
    """``DuplicateFilter.first_seen`` (the quality summary's record keys, asked at every block): a
    hash's first time is its earliest place in its block, if no earlier block held it."""
    from cdrnet.loader import native
    from cdrnet.loader.dedupe import DuplicateFilter

    seen: set[int] = set()
    dup = DuplicateFilter()
    dup._native = kernel and native.KERNEL is not None  # noqa: SLF001 - both paths, one reference
    dup.FIRST_SLOTS = 4
    for block in blocks:
        want = []
        for h in block:
            want.append(h not in seen)
            seen.add(h)
        assert dup.first_seen(np.array(block, dtype=np.uint64)).tolist() == want
