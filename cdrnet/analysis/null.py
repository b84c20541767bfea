"""Expected co-usage under chance, keeping each subscriber's own rhythm.

Null model (circular day shifts): keep every unit of A where it is and move
all of B's units by a whole number of days (1..D-1, wrapping round). That
keeps both subscribers' daily rhythms, their activity levels and which
channels they use, and destroys only the day-specific alignment a real
conversation creates. Within an hour-of-day bin, two units start within
+-w seconds with probability (2w+1)/3600, so averaged over the D-1 shifts

    E[a, b] = (2w+1)/3600 * (sum_h A_h B_h - sum_(d,h) A_dh B_dh) / (D - 1)

where A_h counts A's units in hour-of-day h (per channel key) and A_dh in
hour h of day d. Both sums are entries of M M^T for subscriber-by-bin count
matrices. Heavy users and busy evening hours raise E exactly as much as they
raise the raw count, so only co-usage beyond chance scores. With one day of
data there is nothing to shift and the (day, hour) bins are used directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

ROW_BLOCK = 2048


def bin_matrix(sub: np.ndarray, key: np.ndarray, t: np.ndarray, n_subs: int, by_day: bool = True) -> sparse.csr_matrix:
    """Subscriber x (key, [day,] hour-of-day) unit counts."""
    # Days are counted from the first unit, so D days of data make D day bins
    # whatever the zone offset of the operator's clock.
    rel = t - (t.min() if len(t) else 0)
    hour_bin = rel // 3600 if by_day else (rel // 3600) % 24
    key_code, _ = pd.factorize(key)
    codes, _ = pd.factorize(key_code.astype(np.int64) * (int(hour_bin.max()) + 1 if len(t) else 1) + hour_bin)
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


def expected_pairs(sub: np.ndarray, key: np.ndarray, t: np.ndarray, n_subs: int, a: np.ndarray, b: np.ndarray,
                   shift: bool = True) -> np.ndarray:
    """Null sums (without the window factor) for the requested pairs.

    ``shift=False`` uses the (key, day, hour) bins directly: the stricter null
    for evidence whose chance level changes from day to day, such as being in
    the same cell (weekday office, weekend home).
    """
    if not len(a):
        return np.zeros(0)
    days = int((t.max() - t.min()) // 86400 + 1) if len(t) else 1
    same_day = pair_products(bin_matrix(sub, key, t, n_subs, by_day=True), a, b)
    if days < 2 or not shift:
        return same_day
    any_day = pair_products(bin_matrix(sub, key, t, n_subs, by_day=False), a, b)
    return np.maximum(any_day - same_day, 0.0) / (days - 1)
