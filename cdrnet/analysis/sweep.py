"""Window matching by sort + binary search: O(n log n + k), never O(n^2).

Units (one subscriber's burst of activity on one channel key) are sorted by
(key, time); each unit's window end is found with ``searchsorted`` and the
k matching pairs are materialised with vectorised index arithmetic, in chunks
so memory stays bounded even in hot windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Pairs materialised at once; about 40 bytes each.
CHUNK_PAIRS = 8_000_000


@dataclass
class SweepStats:
    """What the matcher did, reported to the analyst."""

    units: int = 0
    candidate_pairs: int = 0
    chunks: int = 0
    hottest_window: int = 0


def _expand(i0: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For unit i with c followers, yield (i, i+1..i+c) as two flat arrays."""
    total = int(counts.sum())
    left = np.repeat(i0, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    right = left + 1 + (np.arange(total) - starts)
    return left, right


def window_pairs(key: np.ndarray, t: np.ndarray, window: int, stats: SweepStats | None = None,
                 t_end: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield index pairs (i, j), i before j in (key, t) order, same key, t_j - t_i <= window.

    With ``t_end`` (overlap mode) the condition is t_j <= t_end_i instead: the
    later session starts before the earlier one ends. Inputs must already be
    sorted by (key, t).
    """
    n = len(t)
    if stats is not None:
        stats.units += n
    if n < 2:
        return
    # One sortable line: keys are far apart so windows never cross keys.
    span = int(t.max() - t.min()) + 2 * window + 2 if n else 1
    if t_end is not None:
        span += int(max(0, (t_end - t).max()))
    base = t.min()
    line = key.astype(np.int64) * span + (t - base)
    limit = key.astype(np.int64) * span + ((t_end if t_end is not None else t + window) - base)
    end = np.searchsorted(line, limit, side="right")
    counts = np.maximum(end - np.arange(n) - 1, 0)
    if stats is not None:
        stats.candidate_pairs += int(counts.sum())
        stats.hottest_window = max(stats.hottest_window, int(counts.max()) + 1)
    cum = np.cumsum(counts)
    lo = 0
    while lo < n:
        budget = (cum[lo - 1] if lo else 0) + CHUNK_PAIRS
        hi = max(lo + 1, int(np.searchsorted(cum, budget, side="right")))
        hi = min(hi, n)
        idx = np.arange(lo, hi)
        c = counts[lo:hi]
        if c.sum():
            if stats is not None:
                stats.chunks += 1
            yield _expand(idx, c)
        lo = hi
