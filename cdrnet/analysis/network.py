"""One network: direct contacts (calls, SMS) beside links inferred from encrypted-app co-usage.

A pair may be linked by the co-usage engine (``link``), be in direct contact in the
call records, or both. Both is the strongest case for an analyst; an inferred link
without any call is what cdrnet exists to find; direct contacts without a link show
what co-usage missed (or people who only call). On a real case with no planted
truth, how well inferred links agree with direct contacts is the one check of the
engine there is: ``agreement`` measures it over the pairs both kinds of data cover.
"""

from __future__ import annotations

import pandas as pd

from cdrnet.analysis.contacts import undirected

NETWORK_COLUMNS = ["a", "b", "kind", "score", "q_value", "calls", "sms", "seconds"]
#: What ``kind`` says about a pair.
KINDS = {"inferred": "inferred link only (co-usage of encrypted apps, no call or SMS in the call records)",
         "direct": "direct contact only (calls or SMS in the call records, no inferred link)",
         "both": "inferred link and direct contact"}


def one_network(edges: pd.DataFrame, called: pd.DataFrame, among: set[str] | None = None) -> pd.DataFrame:
    """Inferred links (edges with ``link`` true) and direct contacts (undirected) as one table.

    ``among``: keep direct contacts only between these numbers (e.g. the case's own
    subscribers: everyone calls numbers outside the case, and a map of all of them is
    unreadable). Columns: a < b, kind (inferred | direct | both), score, q_value, calls, sms, seconds.
    """
    links = edges[edges["link"].astype(bool)] if len(edges) else edges
    lo = links[["a", "b"]].min(axis=1) if len(links) else pd.Series(dtype="string")
    hi = links[["a", "b"]].max(axis=1) if len(links) else pd.Series(dtype="string")
    inferred = pd.DataFrame({"a": lo.astype("string"), "b": hi.astype("string"),
                             "score": links["score"] if len(links) else pd.Series(dtype=float),
                             "q_value": links["q_value"] if len(links) else pd.Series(dtype=float)})
    direct = undirected(called) if len(called) else pd.DataFrame(columns=["a", "b", "calls", "sms", "seconds"])
    direct = direct[["a", "b", "calls", "sms", "seconds"]].astype({"a": "string", "b": "string"})
    if among is not None:
        direct = direct[direct["a"].isin(among) & direct["b"].isin(among)]
    net = inferred.merge(direct, on=["a", "b"], how="outer", indicator=True)
    net["kind"] = net["_merge"].map({"left_only": "inferred", "right_only": "direct", "both": "both"}).astype(str)
    for c in ("calls", "sms", "seconds"):
        net[c] = net[c].fillna(0).astype("int64")
    order = net["kind"].map({"both": 0, "inferred": 1, "direct": 2})
    net = net.assign(_o=order, _n=net["calls"] + net["sms"]).sort_values(
        ["_o", "score", "_n", "a", "b"], ascending=[True, False, False, True, True])
    return net[NETWORK_COLUMNS].reset_index(drop=True)


def counts(net: pd.DataFrame) -> dict[str, int]:
    """How many pairs of each kind."""
    got = net["kind"].value_counts()
    return {k: int(got.get(k, 0)) for k in KINDS}


def summary_line(net: pd.DataFrame) -> str:
    """One line for people: links, direct contacts, and the pairs that are both."""
    c = counts(net)
    return (f"one network: {c['inferred'] + c['both']} inferred link(s), {c['direct'] + c['both']} direct contact "
            f"pair(s) among the case's subscribers; {c['both']} pair(s) are both")


def _pair_set(f: pd.DataFrame) -> set[tuple[str, str]]:
    if not len(f):
        return set()
    return set(zip(f[["a", "b"]].min(axis=1), f[["a", "b"]].max(axis=1), strict=True))


def contact_pairs(called: pd.DataFrame, subscribers: list[str]) -> pd.DataFrame:
    """Direct-contact pairs (a < b) between the given subscribers: what ``agreement`` checks links against."""
    pairs = undirected(called) if len(called) else pd.DataFrame(columns=["a", "b"])
    wanted = set(subscribers)
    return pairs[pairs["a"].isin(wanted) & pairs["b"].isin(wanted)][["a", "b"]].reset_index(drop=True)


def agreement(edges: pd.DataFrame, contacts: pd.DataFrame) -> dict[str, float]:
    """How inferred links agree with direct contacts: links, direct-contact pairs, pairs that are both,
    the share of links that are direct contacts and the share of direct contacts that are links.

    Direct contacts are not the truth (people who chat on encrypted apps need never call, and
    anyone may call a plumber): a low share says little alone, but a case where links and calls
    never meet is worth a second look at the parameters.
    """
    links = edges[edges["link"].astype(bool)] if len(edges) else edges
    lk, ck = _pair_set(links), _pair_set(contacts)
    both = len(lk & ck)
    return {"links": len(lk), "direct_pairs": len(ck), "both": both,
            "links_with_contact": both / len(lk) if lk else float("nan"),
            "contacts_linked": both / len(ck) if ck else float("nan")}
