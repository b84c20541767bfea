"""Drop rows repeated within one dump, across blocks, in bounded memory.

Only the first 64 bits of each session key are kept (a hash table of them with the compiled
kernel, a sorted numpy array without it), so a 10-million-row dump costs ~130 MB here, not a set
of strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.loader import native

#: The odd constant the kernel's hash table multiplies a hash by to place it (loader/_native.c
#: ``SET_MIX``): a bijection of 64-bit values, so sorting by the product keeps equal hashes together.
SET_MIX = np.uint64(0x9E3779B97F4A7C15)


def _sorted_firsts(key_hash: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stable sort order of ``key_hash``, the sorted hashes, and which of them is the first of
    its value (the earliest row of equal hashes: a repeat within the block is dropped).

    numpy's default argsort (SIMD, ~1 ms a 100k-row block) is not stable, the stable one costs
    ~5.6 ms: when no two hashes are equal (the usual block) there is one sorted order and both
    give it; only a block holding a repeat is sorted again stably.
    """
    order = np.argsort(key_hash)
    ordered = key_hash[order]
    firsts = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=firsts[1:])
    if not firsts.all():
        order = np.argsort(key_hash, kind="stable")
        ordered = key_hash[order]
    return order, ordered, firsts


class DuplicateFilter:
    """Remembers key hashes seen so far in the current dump.

    With the compiled kernel the hashes go into an open-addressing table (``native.set_insert``):
    one probe a row. The sorted array of the pure path (kept as the reference, and for an install
    without a compiler) copies every hash seen so far at each block, so a dump's cost grows with the
    square of its blocks: 3.9 CPU s of a 10M-row dump (110 blocks), 0.08 s of a 1M-row one
    (docs/benchmarks.md, "The duplicate filter at 10M rows").
    """

    #: Slots of the first table; it doubles (or more) before it would be over ~70 % full.
    FIRST_SLOTS = 1 << 16

    def __init__(self) -> None:
        self._sorted = np.zeros(0, dtype=np.uint64)  # the pure path's set (sorted)
        self._table: np.ndarray | None = None
        self._stored = 0  # the table's non-zero entries
        self._zero = False  # the hash 0 (no table slot can hold it) seen
        self._native = native.KERNEL is not None

    @property
    def seen(self) -> np.ndarray:
        """Every key hash kept so far, sorted (what the overlap check with other dumps reads)."""
        if self._table is not None:
            held = self._table[self._table != 0]
            if self._zero:
                held = np.append(held, np.uint64(0))
            held.sort()
            return held
        return self._sorted

    def __call__(self, sessions: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        if len(sessions) == 0:
            return sessions, np.zeros(0, dtype=np.int64)
        keep = self.first_seen(key_hash)
        dropped = sessions["source_line"].to_numpy()[~keep]
        return sessions[keep], dropped

    def first_seen(self, key_hash: np.ndarray) -> np.ndarray:
        """Per hash (in the order given), whether this is its first time: not in an earlier block,
        nor earlier in this one; every hash is remembered.

        Also the quality summary's "first row of its record" (``records_seen``): asked at every
        block of a dump with record-level volumes, a sorted array grown by ``np.insert`` made that
        quadratic in the dump's blocks, as it was here (docs/benchmarks.md).
        """
        key_hash = np.asarray(key_hash, dtype=np.uint64)
        if not len(key_hash):
            return np.zeros(0, dtype=bool)
        keep_sorted = None
        if self._native:
            # In the table's slot order (stable: the first of equal hashes is the earliest row).
            order, _, _ = _sorted_firsts(key_hash * SET_MIX)
            keep_sorted = self._insert(key_hash[order])
        if keep_sorted is None:
            # In hash order (stable likewise), for the binary searches into the sorted set.
            order, ordered, firsts = _sorted_firsts(key_hash)
            keep_sorted = self._keep_sorted(ordered, firsts)
        keep = np.empty(len(key_hash), dtype=bool)
        keep[order] = keep_sorted
        return keep

    def _insert(self, key_hash: np.ndarray) -> np.ndarray | None:
        """The kernel's path: each hash's "first time seen?", the hashes given in the table's slot
        order (by ``hash * SET_MIX``, as ``native.set_insert`` places them: they probe the table from
        its start to its end, not at random), or None without the kernel."""
        need = self._stored + len(key_hash)
        if self._table is None or need * 10 > len(self._table) * 7:
            slots = max(self.FIRST_SLOTS, 1 << (2 * need - 1).bit_length())  # at most half full after
            old = self._table
            self._table, self._stored = np.zeros(slots, dtype=np.uint64), 0
            if old is not None:
                kept = native.set_insert(self._table, 0, old[old != 0], False)
                if kept is None:
                    return None
                self._stored = kept[1]
        got = native.set_insert(self._table, self._stored, key_hash, self._zero)
        if got is None:
            return None
        keep, inserted, self._zero = got
        self._stored += inserted
        return keep

    def _keep_sorted(self, ordered: np.ndarray, firsts: np.ndarray) -> np.ndarray:
        """The pure path, on the block's hashes sorted (``ordered``; ``firsts`` marks the first of
        equal ones): the binary searches into the sorted set walk it in order (a 100k-row block's
        unsorted searches cost twice the sort, mostly cache misses, growing with the dump)."""
        keep_sorted = firsts.copy()
        pos = np.searchsorted(self._sorted, ordered)
        if len(self._sorted):
            keep_sorted &= self._sorted[np.minimum(pos, len(self._sorted) - 1)] != ordered
        self._sorted = np.insert(self._sorted, pos[keep_sorted], ordered[keep_sorted])
        return keep_sorted


class HashSet:
    """A growing set of 64-bit hashes, asked "seen before?" block after block (the raw rows':
    asked only about blocks holding a duplicate, so merging lazily is cheaper than a table; a set
    asked at every block is a :class:`DuplicateFilter`, ``first_seen``).

    ``np.union1d`` per block re-hashed everything seen so far, so a dump's n-th block cost
    n blocks' worth (3 of 9 CPU seconds at 500k rows went there). Here new hashes wait in a
    list and are merged into one sorted array (searchsorted + insert, no re-hash) only when a
    question is asked; the raw-row hashes are asked only about blocks with duplicates.
    """

    def __init__(self) -> None:
        self._sorted = np.zeros(0, dtype=np.uint64)
        self._pending: list[np.ndarray] = []

    def add(self, hashes: np.ndarray) -> None:
        if len(hashes):
            self._pending.append(np.asarray(hashes, dtype=np.uint64))

    def _in_sorted(self, hashes: np.ndarray) -> np.ndarray:
        s = self._sorted
        if not len(s):
            return np.zeros(len(hashes), dtype=bool)
        pos = np.searchsorted(s, hashes)
        return s[np.minimum(pos, len(s) - 1)] == hashes

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Membership of each hash, as a boolean array."""
        if self._pending:
            new = np.unique(np.concatenate(self._pending))
            self._pending = []
            new = new[~self._in_sorted(new)]
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, new), new)
        return self._in_sorted(np.asarray(hashes, dtype=np.uint64))
