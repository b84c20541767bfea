"""The case's current network: the one every output draws.

``link`` keeps its run in the store (the workspace: every scored pair and the
parameters in ``link-run/``; Neo4j: CO_USED links and a LinkRun node with the
parameters). ``map``, ``summary``, ``report`` and ``evidence`` take their
network from :func:`current_network`, so ``link --window 120`` then ``map``
draws the 120 s network, and an output that has to link again says so, and
with what.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.store import SessionStore


@dataclass
class Network:
    """Edges (edges.csv columns, first/last as UTC timestamps) and the parameters that made them."""

    edges: pd.DataFrame
    params: LinkParams
    #: True when computed now (no link run yet, or options that differ from the run's).
    relinked: bool
    #: When the stored run ran (None when re-linked now).
    run_at: pd.Timestamp | None
    #: Whether ``edges`` holds every scored pair (False: links only, as Neo4j keeps them).
    all_pairs: bool
    #: One line for people saying where the network comes from and with which parameters.
    note: str

    @property
    def links(self) -> pd.DataFrame:
        """The pairs judged links, strongest first."""
        if self.edges.empty:
            return self.edges
        return self.edges[self.edges["link"].astype(bool)].sort_values("score", ascending=False, kind="stable")

    def pair(self, a: str, b: str) -> pd.Series | None:
        """The network's row for the pair a--b (either order), or None when the network holds none."""
        a, b = sorted((a, b))
        e = self.edges
        hit = e[((e["a"] == a) & (e["b"] == b)) | ((e["a"] == b) & (e["b"] == a))] if len(e) else e
        return hit.iloc[0] if len(hit) else None


def _when(ts: pd.Timestamp | None, tz: str) -> str:
    return f"{ts.tz_convert(tz):%Y-%m-%d %H:%M} {tz}" if ts is not None else "unknown time"


def current_network(store: SessionStore, overrides: dict[str, Any] | None = None, tz: str = "UTC") -> Network:
    """The case's latest ``link`` results and parameters; re-linked (and saying so) when needed.

    ``overrides``: link parameters an analyst gave explicitly (e.g. ``{"window_s": 120}``).
    None or the stored run's own values give the stored run; different values, or no
    run at all, link now with the stored run's parameters (or the defaults) replaced by
    ``overrides``. Nothing is written: the case's network changes only with ``link``.
    """
    from cdrnet.analysis.cousage import LinkParams

    overrides = dict(overrides or {})
    run = store.last_link_run()
    base = LinkParams.from_dict(run.params) if run is not None else LinkParams()
    params = dataclasses.replace(base, **overrides) if overrides else base
    if run is not None and params == base:
        note = f"network: the last link run ({_when(run.at, tz)}; {params.describe()})"
        return Network(run.edges, params, False, run.at, run.all_pairs, note)
    if run is None:
        why = "no link run yet"
    else:
        changed = [f.name for f in dataclasses.fields(LinkParams) if getattr(params, f.name) != getattr(base, f.name)]
        why = f"options differ from the last link run ({_when(run.at, tz)}): {', '.join(changed)}"
    with_what = "default parameters: " if not overrides and run is None else ""
    note = f"network: re-linked now with {with_what}{params.describe()} ({why}; nothing stored, 'cdrnet link' stores)"
    result = store.link(params)
    return Network(result.edges, params, True, None, True, note)
