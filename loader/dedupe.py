"""Drop rows repeated within one dump, across blocks, in bounded memory.

Only the first 64 bits of each session key are kept (a sorted numpy array),
so a 10-million-row dump costs 80 MB here, not a set of strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class DuplicateFilter:
    """Remembers key hashes seen so far in the current dump."""

    def __init__(self) -> None:
        self.seen = np.zeros(0, dtype=np.uint64)

    def __call__(self, sessions: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        if len(sessions) == 0:
            return sessions, np.zeros(0, dtype=np.int64)
        first_in_block = ~pd.Series(key_hash).duplicated().to_numpy()
        pos = np.searchsorted(self.seen, key_hash)
        known = ((pos < len(self.seen)) & (self.seen[np.minimum(pos, max(len(self.seen) - 1, 0))] == key_hash)
                 if len(self.seen) else np.zeros(len(key_hash), bool))
        keep = first_in_block & ~known
        new = np.sort(key_hash[keep])
        self.seen = np.insert(self.seen, np.searchsorted(self.seen, new), new)
        dropped = sessions["source_line"].to_numpy()[~keep]
        return sessions[keep], dropped
