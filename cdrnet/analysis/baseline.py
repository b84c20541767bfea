"""The founding paper's correlation method, as the baseline every report shows.

Same destination port (only ports in the paper's Table II), start times within
the window, raw count of session pairs. Implemented with the same sweep as our
engine so it runs at any size; ``naive_pairs`` is the paper's O(n^2) loop, kept
for the benchmark's crossover and for differential tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.analysis.sweep import window_pairs
from cdrnet.analysis.units import epoch_seconds
from cdrnet.loader.signatures import load_signatures


def paper_ports() -> set[int]:
    ports: set[int] = set()
    for rule in load_signatures("paper"):
        for a, b in rule.ports:
            ports.update(range(a, b + 1))
    return ports


def paper_edges(frame: pd.DataFrame, window_s: int = 180) -> pd.DataFrame:
    """Edges a, b, score (= raw co-usage count) for every pair with at least one instance."""
    ports = np.array(sorted(paper_ports()))
    f = frame[frame["dest_port"].isin(ports)]
    codes = pd.Index(np.sort(frame["msisdn"].unique()))
    if f.empty:
        return pd.DataFrame(columns=["a", "b", "score"])
    sub = codes.get_indexer(f["msisdn"])
    t = epoch_seconds(f["start_utc"])
    key = f["dest_port"].to_numpy(np.int64)
    order = np.lexsort((sub, t, key))
    key, t, sub = key[order], t[order], sub[order]
    counts: list[pd.Series] = []
    for i, j in window_pairs(key, t, window_s):
        keep = sub[i] != sub[j]
        a = np.minimum(sub[i][keep], sub[j][keep])
        b = np.maximum(sub[i][keep], sub[j][keep])
        counts.append(pd.Series(1, index=pd.MultiIndex.from_arrays([a, b])).groupby(level=[0, 1]).sum())
    if not counts:
        return pd.DataFrame(columns=["a", "b", "score"])
    total = pd.concat(counts).groupby(level=[0, 1]).sum()
    out = pd.DataFrame({"a": codes[total.index.get_level_values(0)], "b": codes[total.index.get_level_values(1)],
                        "score": total.to_numpy()})
    return out.sort_values(["score", "a", "b"], ascending=[False, True, True]).reset_index(drop=True)


def naive_pairs(a_ports: list[int], a_times: list[int], b_ports: list[int], b_times: list[int], window_s: int) -> int:
    """The paper's nested loop over two subscribers' records (O(n*m))."""
    count = 0
    for pa, ta in zip(a_ports, a_times, strict=True):
        for pb, tb in zip(b_ports, b_times, strict=True):
            if pa == pb and abs(ta - tb) <= window_s:
                count += 1
    return count
