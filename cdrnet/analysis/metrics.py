"""Ranking metrics against a planted truth: AP (PR-AUC), ROC-AUC, precision@k, recall at FDR.

A pair can only show co-usage while both subscribers were recorded, so evaluation ranks
only the pairs observed together for at least ``MIN_COMMON_DAYS`` days (``eligible``):
a pair with no common time is unobservable, not a miss of the engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.analysis.observed import MIN_COMMON_DAYS, Coverage


def pair_key(a: pd.Series, b: pd.Series) -> pd.Series:
    """Order-free pair identifier 'a|b' with a < b."""
    lo = np.where(a.astype(str) < b.astype(str), a.astype(str), b.astype(str))
    hi = np.where(a.astype(str) < b.astype(str), b.astype(str), a.astype(str))
    return pd.Series(lo, dtype=object) + "|" + pd.Series(hi, dtype=object)




def all_pairs(subscribers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair (a < b) of the subscribers, in the order ``rank_all_pairs`` uses."""
    subs = np.array(sorted(set(subscribers)), dtype=object)
    iu = np.triu_indices(len(subs), 1)
    return subs[iu[0]], subs[iu[1]]


def rank_all_pairs(edges: pd.DataFrame, subscribers: list[str], truth: pd.DataFrame, score_col: str = "score",
                   eligible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels for every subscriber pair; pairs absent from ``edges`` get -inf (rank last).

    ``eligible`` (a boolean per pair of ``all_pairs(subscribers)``) keeps only those pairs,
    e.g. the pairs observed together for at least two days.
    """
    a, b = all_pairs(subscribers)
    keys = pd.Series(a, dtype=object) + "|" + pd.Series(b, dtype=object)
    scores = pd.Series(-np.inf, index=keys.to_numpy())
    if len(edges):
        ek = pair_key(edges["a"], edges["b"])
        s = pd.Series(edges[score_col].to_numpy(float), index=ek.to_numpy())
        s = s[s.index.isin(scores.index)]
        s = s.groupby(level=0).max()
        scores.loc[s.index] = s.to_numpy()
    tk = set(pair_key(truth["a"], truth["b"]))
    labels = scores.index.isin(list(tk))
    if eligible is not None:
        keep = np.asarray(eligible, dtype=bool)
        return scores.to_numpy(float)[keep], labels[keep]
    return scores.to_numpy(float), labels


def pairs_common_days(a: np.ndarray, b: np.ndarray, coverage: Coverage,
                      frame: pd.DataFrame | None = None) -> np.ndarray:
    """Common local calendar days of each pair's observed periods, as the link engine counts them.

    ``coverage`` holds the dumps' periods (the stated period, else the span of the dump's rows);
    a subscriber it does not cover is observed over the span of its rows in ``frame``.
    """
    if frame is not None and len(frame):
        coverage = coverage.with_sessions(frame)
    return np.asarray(coverage.common_days(list(a), list(b)), dtype=np.int64)


def observed_together(subscribers: list[str], truth: pd.DataFrame, common: np.ndarray,
                      minimum: int = MIN_COMMON_DAYS) -> dict[str, int]:
    """How many pairs (and true pairs) are kept by the common-days rule, for the report."""
    a, b = all_pairs(subscribers)
    keys = pd.Series(a, dtype=object) + "|" + pd.Series(b, dtype=object)
    true = keys.isin(set(pair_key(truth["a"], truth["b"]))).to_numpy()
    keep = np.asarray(common) >= minimum
    return {"pairs_all": int(len(keys)), "pairs_kept": int(keep.sum()), "true_all": int(true.sum()),
            "true_kept": int((true & keep).sum()), "min_common_days": int(minimum)}


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """AP = mean of precision at each true pair's rank; ties are broken pessimistically."""
    pos = int(labels.sum())
    if pos == 0:
        return float("nan")
    order = np.lexsort((labels.astype(int), -scores))  # within ties, negatives first
    lab = labels[order]
    hits = np.cumsum(lab)
    prec = hits / np.arange(1, len(lab) + 1)
    return float(prec[lab].sum() / pos)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability a random true pair outranks a random other pair (ties count half)."""
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    finite = np.where(np.isfinite(scores), scores,
                      np.nanmin(scores[np.isfinite(scores)]) - 1 if np.isfinite(scores).any() else 0)
    ranks = pd.Series(finite).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_at_k(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    order = np.lexsort((labels.astype(int), -scores))
    return float(labels[order][:k].mean()) if k else float("nan")


def recall_at_fdr(scores: np.ndarray, labels: np.ndarray, fdr: float) -> float:
    """Largest recall reachable with a score cut whose false-discovery share is <= fdr."""
    pos = int(labels.sum())
    if pos == 0:
        return float("nan")
    order = np.lexsort((labels.astype(int), -scores))
    lab = labels[order]
    sc = scores[order]
    tp = np.cumsum(lab)
    fp = np.cumsum(~lab)
    # Only cut between distinct scores (a threshold cannot split ties).
    boundary = np.r_[sc[1:] != sc[:-1], True] & np.isfinite(sc)
    ok = boundary & (fp <= fdr * (tp + fp))
    return float(tp[ok].max() / pos) if ok.any() else 0.0


def evaluate(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    k = int(labels.sum())
    return {
        "pairs": int(len(labels)), "true_pairs": k, "ap": average_precision(scores, labels),
        "roc_auc": roc_auc(scores, labels), "precision_at_k": precision_at_k(scores, labels, k),
        "recall_at_fdr05": recall_at_fdr(scores, labels, 0.05), "recall_at_fdr10": recall_at_fdr(scores, labels, 0.10),
    }
