"""Expected co-usage under chance for each pair, on the days both were observed.

Null model (circular day shifts, pair-local): for a pair (A, B), let C be the
local calendar days on which *both* were being recorded (the intersection of
their dumps' periods, see observed.py) and D = |C|. Keep every unit of A
where it is and move all of B's units to another day of C, keeping the hour
of day. That keeps both subscribers' daily rhythms, their activity levels and
which channels they use, and destroys only the day-specific alignment a real
conversation creates. Within an hour-of-day bin, two units start within +-w
seconds with probability (2w+1)/3600, so averaged over the D-1 other days

    E[a, b] = (2w+1)/3600 * (sum_h A_h B_h - sum_(d,h) A_dh B_dh) / (D - 1)

where A_h counts A's units on days of C in hour-of-day h (per channel key)
and A_dh in hour h of day d in C. Both sums are entries of M M^T for
subscriber-by-bin count matrices built from the units on C only.

Because C and the units are the pair's own, a pair's expected count depends on
nothing else in the case: adding dumps of other subscribers (any period, any
layout) cannot move it. Pairs sharing fewer than two days have no other day to
shift to and are not scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

ROW_BLOCK = 2048


def bin_matrix(sub: np.ndarray, key: np.ndarray, tl: np.ndarray, n_subs: int, by_day: bool = True) -> sparse.csr_matrix:
    """Subscriber x (key, [day,] hour-of-day) unit counts; ``tl`` is local epoch seconds."""
    hour = tl // 3600
    hour_bin = hour if by_day else hour % 24
    key_code, _ = pd.factorize(key)
    span = int(hour_bin.max() - hour_bin.min()) + 1 if len(tl) else 1
    rel = hour_bin - (hour_bin.min() if len(tl) else 0)
    codes, _ = pd.factorize(key_code.astype(np.int64) * span + rel)
    data = np.ones(len(sub), dtype=np.float64)
    m = sparse.coo_matrix((data, (sub, codes)), shape=(n_subs, int(codes.max()) + 1 if len(codes) else 1))
    return m.tocsr()


def pair_products(m: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum over bins of m[a] * m[b] for each requested pair, computed block by block.

    Only row blocks of M M^T are formed, so memory stays bounded for large cases.
    """
    out = np.zeros(len(a), dtype=np.float64)
    if not len(a):
        return out
    mt = m.T.tocsc()
    for lo in range(0, m.shape[0], ROW_BLOCK):
        sel = np.flatnonzero((a >= lo) & (a < lo + ROW_BLOCK))
        if not len(sel):
            continue
        block = (m[lo : lo + ROW_BLOCK] @ mt).tocsr()
        out[sel] = np.asarray(block[a[sel] - lo, b[sel]]).ravel()
    return out


def common_day_groups(a: np.ndarray, b: np.ndarray, sig: np.ndarray,
                      sets: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group pairs by their common-day set C: a group id per pair and the sets C."""
    if not len(a):
        return np.zeros(0, dtype=np.int64), []
    sa, sb = sig[a], sig[b]
    sig_pair, uniq = pd.factorize(pd.Series(sa * (len(sets) + 1) + sb))
    inter = []
    for code in np.asarray(uniq, dtype=np.int64):
        x, y = divmod(int(code), len(sets) + 1)
        inter.append(np.intersect1d(sets[x], sets[y]).tobytes())
    cgroup, cuniq = pd.factorize(pd.Series(inter, dtype=object))
    group = cgroup[sig_pair]
    return group.astype(np.int64), [np.frombuffer(c, dtype=np.int64) for c in cuniq]


def expected_pairs(sub: np.ndarray, key: np.ndarray, tl: np.ndarray, n_subs: int, a: np.ndarray, b: np.ndarray,
                   sig: np.ndarray, sets: list[np.ndarray], shift: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Null sums (without the window factor) and common-day counts for the requested pairs.

    ``sub``/``key``/``tl`` are the channel's units (subscriber code, key, local
    epoch seconds); ``sig``/``sets`` give each subscriber's observed days.
    ``shift=False`` uses the (key, day, hour) bins directly: the stricter null
    for evidence whose chance level changes from day to day, such as being in
    the same cell (weekday office, weekend home). Pairs with fewer than two
    common days get NaN.
    """
    out = np.full(len(a), np.nan)
    common = np.zeros(len(a), dtype=np.int64)
    if not len(a):
        return out, common
    group, csets = common_day_groups(a, b, sig, sets)
    day = tl // 86400
    for g, days in enumerate(csets):
        sel = np.flatnonzero(group == g)
        common[sel] = len(days)
        if len(days) < 2:
            continue
        ga, gb = a[sel], b[sel]
        involved = np.zeros(n_subs, dtype=bool)
        involved[ga] = True
        involved[gb] = True
        keep = involved[sub] & np.isin(day, days)
        s, k, t = sub[keep], key[keep], tl[keep]
        same_day = pair_products(bin_matrix(s, k, t, n_subs, by_day=True), ga, gb)
        if not shift:
            out[sel] = same_day
            continue
        any_day = pair_products(bin_matrix(s, k, t, n_subs, by_day=False), ga, gb)
        out[sel] = np.maximum(any_day - same_day, 0.0) / (len(days) - 1)
    return out, common
