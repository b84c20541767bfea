"""Tower dumps: which numbers were at several places, at the right times.

A tower dump lists every call and SMS handled by one cell over a period (the
scene of an incident, a hideout, a border post). A number present in several
dumps of several places is worth a look; present in all of them, at the times
each place mattered, it is a lead. Presence is the row's own subscriber
(``msisdn``): the other party of a call was not necessarily at the cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Place:
    """One tower dump (a place) and optionally the time that matters there ([since, until), UTC)."""

    sha256: str
    name: str
    cell: str
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None

    @property
    def label(self) -> str:
        """How tables name the place: its cell id, else its file name."""
        return self.cell or self.name


@dataclass
class Presence:
    """Numbers seen in at least ``k`` of the places, with when they were seen at each."""

    places: list[Place]
    k: int
    tz: str
    table: pd.DataFrame  # msisdn, places, then per place "first seen" (local text, "" when absent), in_case
    events: pd.DataFrame = field(default_factory=pd.DataFrame)  # the rows behind the table (evidence)
    #: Distinct numbers seen at each place (within its window): a place nobody was at (an empty
    #: ``No Data Found`` export, a window that misses every call) makes "all N places" empty.
    numbers_at: list[int] = field(default_factory=list)


def presence(events: pd.DataFrame, places: list[Place], k: int, tz: str,
             case_numbers: set[str] | None = None) -> Presence:
    """Numbers present in at least ``k`` of ``places`` (each within its time window, if it has one).

    The table has one row per number: how many places, then per place the first and last
    time seen there (in ``tz``), most places first. ``case_numbers``: numbers some dump of
    the case was requested for (``in_case`` column).
    """
    if not 1 <= k <= len(places):
        raise ValueError(f"k must be between 1 and the number of places ({len(places)})")
    parts = []
    for i, p in enumerate(places):
        f = events[events["dump_sha256"] == p.sha256]
        if p.since is not None:
            f = f[f["start_utc"] >= p.since]
        if p.until is not None:
            f = f[f["start_utc"] < p.until]
        parts.append(f.assign(_place=i))
    seen = pd.concat(parts, ignore_index=True) if parts else events.iloc[:0].assign(_place=0)
    seen = seen[seen["msisdn"].fillna("") != ""]
    per = seen.groupby(["msisdn", "_place"])["start_utc"].agg(["min", "max"]).reset_index()
    count = per.groupby("msisdn")["_place"].nunique().rename("places")
    keep = count[count >= k].index
    table = count.loc[keep].reset_index()
    labels = _unique_labels(places)
    for i, label in enumerate(labels):
        at = per[per["_place"] == i].set_index("msisdn")
        first = at["min"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
        last = at["max"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
        seen_text = (first + " .. " + last).where(first != last, first)
        table[label] = table["msisdn"].map(seen_text).astype(object).fillna("")
    if case_numbers is not None:
        table["in_case"] = table["msisdn"].isin(case_numbers)
    table = table.sort_values(["places", "msisdn"], ascending=[False, True]).reset_index(drop=True)
    rows = seen[seen["msisdn"].isin(set(keep))].drop(columns="_place")
    at_place = seen.groupby("_place")["msisdn"].nunique()
    numbers_at = [int(at_place.get(i, 0)) for i in range(len(places))]
    return Presence(places, k, tz, table, rows.sort_values(["msisdn", "start_utc"]).reset_index(drop=True),
                    numbers_at)


def _unique_labels(places: list[Place]) -> list[str]:
    """Column names per place: the cell id, with the file name where two places share a cell."""
    labels = [p.label for p in places]
    return [lab if labels.count(lab) == 1 else f"{lab} ({p.name})" for lab, p in zip(labels, places, strict=True)]
