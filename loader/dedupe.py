"""Drop rows repeated within one dump, across blocks, in bounded memory.

Only the first 64 bits of each session key are kept (a sorted numpy array),
so a 10-million-row dump costs 80 MB here, not a set of strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    """Remembers key hashes seen so far in the current dump."""

    def __init__(self) -> None:
        self.seen = np.zeros(0, dtype=np.uint64)

    def __call__(self, sessions: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        if len(sessions) == 0:
            return sessions, np.zeros(0, dtype=np.int64)
        # The block's hashes in sorted order (stable, so the first of equal hashes is the earliest
        # row): repeats within the block are neighbours, and the binary searches into ``seen``
        # walk it in order (a 100k-row block's unsorted searches cost twice the sort, mostly cache
        # misses, growing with the dump).
        order, ordered, keep_sorted = _sorted_firsts(key_hash)
        pos = np.searchsorted(self.seen, ordered)
        if len(self.seen):
            keep_sorted &= self.seen[np.minimum(pos, len(self.seen) - 1)] != ordered
        self.seen = np.insert(self.seen, pos[keep_sorted], ordered[keep_sorted])
        keep = np.empty(len(ordered), dtype=bool)
        keep[order] = keep_sorted
        dropped = sessions["source_line"].to_numpy()[~keep]
        return sessions[keep], dropped


class HashSet:
    """A growing set of 64-bit hashes, asked "seen before?" block after block.

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
