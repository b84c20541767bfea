"""Where a case's cells stand, and who was seen at each of them when.

A cell's position comes from the best source that has it:

1. ``operator``: the dump's own columns (Airtel ``CGI Latitude/Longitude`` or ``First CGI
   Lat/Long``, DoT ``Latitude/Longitude``, BSNL ``Lat-…; Long-…`` in the location text), as the
   loader read them onto each session;
2. ``chart``: an imported CGI chart (the operator's cell-site list);
3. ``opencellid``: an imported OpenCelliD / Mozilla Location Service export.

A listed cell matches a case cell by key; else, between an LTE cell written with its TAC and one
written without (Jio), by MCC, MNC and cell identity when exactly one listed cell has them; else,
for an id that is a bare run of digits, by the one listed cell written with exactly those digits
(:mod:`cdrnet.loader.cells`). Each placement says which source and which match gave it.
"""

from __future__ import annotations

import pandas as pd

from cdrnet.loader.cells import cell_family, key_parts, resolve_digits

#: Position sources, best first.
SOURCES = ("operator", "chart", "opencellid")
PLACE_COLUMNS = ["cell_id", "cell_raw", "cell_name", "sessions", "calls", "subscribers", "first_utc", "last_utc",
                 "lat", "lon", "source", "matched_by", "site_name", "list_sha256", "source_line"]
#: Session columns a placement reads (what ``sightings`` takes from each session).
SESSION_COLUMNS = ["msisdn", "start_utc", "cell_id", "cell_raw", "cell_name", "lat", "lon"]


def sightings(sessions: pd.DataFrame | None, calls: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every time a subscriber was seen at a cell: each data session at its cell, and each call
    event (voice/SMS CDR, tower dump; cdrnet/model.py CALL_SCHEMA) at its first cell when it started
    and at its last cell when it ended. ``record`` is the session or event key, ``kind`` which."""
    parts = []
    if sessions is not None:
        f = sessions[sessions["cell_id"].fillna("") != ""]
        parts.append(f[SESSION_COLUMNS].assign(record=f["session_key"], kind="session"))
    if calls is not None and len(calls):
        for side, when in (("first", "start_utc"), ("last", "end_utc")):
            c = calls[calls[f"{side}_cell"].fillna("") != ""]
            parts.append(pd.DataFrame({
                "msisdn": c["msisdn"], "start_utc": c[when], "cell_id": c[f"{side}_cell"],
                "cell_raw": c[f"{side}_cell_raw"], "cell_name": c[f"{side}_cell_name"], "lat": c[f"{side}_lat"],
                "lon": c[f"{side}_lon"], "record": c["event_key"], "kind": "call"}))
    parts = [p for p in parts if len(p)]
    if not parts:  # nobody seen at any cell
        return pd.DataFrame({"msisdn": pd.Series(dtype="string"), "start_utc": pd.Series(dtype="datetime64[s, UTC]"),
                             **{c: pd.Series(dtype="string") for c in ("cell_id", "cell_raw", "cell_name")},
                             "lat": pd.Series(dtype=float), "lon": pd.Series(dtype=float),
                             "record": pd.Series(dtype="string"), "kind": pd.Series(dtype="string")})
    return pd.concat(parts, ignore_index=True)


def case_cells(seen: pd.DataFrame) -> pd.DataFrame:
    """One row per cell the case's ``sightings`` name: first raw form and name, how many sessions
    and call events, subscribers, first/last time, and the operator's position (the most frequent
    one stated for the cell)."""
    f = seen[seen["cell_id"].fillna("") != ""]
    g = f.groupby("cell_id", sort=True)
    named = f[f["cell_name"].fillna("") != ""].groupby("cell_id")["cell_name"].first()
    counts = f.groupby(["cell_id", "kind"])["record"].nunique().unstack(fill_value=0)
    index = g.size().index
    out = pd.DataFrame({
        "cell_raw": g["cell_raw"].first(), "cell_name": named.reindex(index).fillna(""),
        "sessions": counts["session"].reindex(index).fillna(0).astype(int) if "session" in counts else 0,
        "calls": counts["call"].reindex(index).fillna(0).astype(int) if "call" in counts else 0,
        "subscribers": g["msisdn"].nunique(), "first_utc": g["start_utc"].min(), "last_utc": g["start_utc"].max(),
    })
    stated = f.dropna(subset=["lat", "lon"])
    if len(stated):
        pos = (stated.groupby(["cell_id", "lat", "lon"]).size().rename("n").reset_index()
               .sort_values(["cell_id", "n"], ascending=[True, False]).drop_duplicates("cell_id")
               .set_index("cell_id"))
        out["op_lat"], out["op_lon"] = pos["lat"], pos["lon"]
    else:
        out["op_lat"] = out["op_lon"] = float("nan")
    return out.reset_index()


def _ranked(sites: pd.DataFrame) -> pd.DataFrame:
    """One listed row per key: in-service before de-commissioned, then the latest import."""
    decom = sites["status"].fillna("").str.lower().str.contains("de-?commission")
    order = pd.Series(range(len(sites)), index=sites.index)
    return (sites.assign(_d=decom, _o=-order).sort_values(["_d", "_o"], kind="stable")
            .drop_duplicates("cell_id").drop(columns=["_d", "_o"]))


def _match(keys: pd.Series, sites: pd.DataFrame) -> pd.DataFrame:
    """For each key, the listed row that places it and how it matched (NA where none)."""
    listed = _ranked(sites).set_index("cell_id")
    cols = ["lat", "lon", "site_name", "list_sha256", "source_line"]
    out = listed.reindex(keys.to_numpy())[cols].set_axis(keys.index)
    out["matched_by"] = pd.Series("key", index=keys.index, dtype="string").where(out["lat"].notna())
    # The same LTE cell with and without its TAC: a family match, when one listed cell has it.
    fam = pd.DataFrame({"family": cell_family(listed.index.to_series()).to_numpy(),
                        "has_lac": key_parts(listed.index.to_series())["lac"].notna().to_numpy(),
                        "cell_id": listed.index.to_numpy()})
    fam = fam.dropna(subset=["family"])
    mine = pd.DataFrame({"family": cell_family(keys).to_numpy(), "has_lac": key_parts(keys)["lac"].notna().to_numpy()},
                        index=keys.index)
    for has_lac in (True, False):
        cand = fam[fam["has_lac"] != has_lac]
        unique = cand.groupby("family")["cell_id"].agg(lambda s: s.iloc[0] if len(s) == 1 else None).dropna()
        want = out["lat"].isna() & (mine["has_lac"] == has_lac) & mine["family"].isin(unique.index)
        if want.any():
            found = mine.loc[want, "family"].map(unique)
            out.loc[want, cols] = listed.loc[found.to_numpy(), cols].set_axis(found.index).to_numpy()
            out.loc[want, "matched_by"] = "family"
    # A bare run of digits: the one listed cell written with exactly those digits.
    want = out["lat"].isna() & keys.fillna("").str.fullmatch(r"\d+")
    if want.any():
        resolved = resolve_digits(keys[want], listed.index.to_series().astype("string"))
        hit = resolved != keys[want]
        if hit.any():
            found = resolved[hit]
            out.loc[found.index, cols] = listed.loc[found.to_numpy(), cols].set_axis(found.index).to_numpy()
            out.loc[found.index, "matched_by"] = "digits"
    return out


def place_cells(cells: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """The case's cells (``case_cells``) with a position and its source, best source first."""
    out = cells.copy()
    out["lat"], out["lon"] = out["op_lat"], out["op_lon"]
    out["source"] = pd.Series("operator", index=out.index, dtype="string").where(out["lat"].notna())
    out["matched_by"] = pd.Series("dump", index=out.index, dtype="string").where(out["lat"].notna())
    for c in ("site_name", "list_sha256"):
        out[c] = pd.Series(pd.NA, index=out.index, dtype="string")
    out["source_line"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    keys = out["cell_id"].astype("string")
    for source in SOURCES[1:]:
        todo = out["lat"].isna()
        listed = sites[sites["source"] == source]
        if not todo.any() or listed.empty:
            continue
        m = _match(keys[todo], listed)
        got = m["lat"].notna()
        idx = m.index[got]
        for c in ("lat", "lon"):
            out.loc[idx, c] = m.loc[got, c].astype(float)
        for c in ("site_name", "list_sha256", "matched_by"):
            out.loc[idx, c] = m.loc[got, c].astype("string")
        out.loc[idx, "source_line"] = m.loc[got, "source_line"].astype("Int64")
        out.loc[idx, "source"] = source
    out["lat"], out["lon"] = out["lat"].astype(float), out["lon"].astype(float)
    for c in ("source", "matched_by", "site_name", "list_sha256"):
        out[c] = out[c].astype("string")
    return out[PLACE_COLUMNS]


def coverage(placed: pd.DataFrame) -> dict[str, int]:
    """How many of the case's cells have a position, by source (and how many have none)."""
    counts = placed["source"].fillna("none").value_counts()
    out = {"cells": len(placed)}
    out.update({s: int(counts.get(s, 0)) for s in (*SOURCES, "none")})
    records = placed["sessions"] + placed["calls"]
    out["records"] = int(records.sum())
    out["records_placed"] = int(records[placed["source"].notna()].sum())
    return out


def coverage_text(cov: dict[str, int]) -> str:
    """The coverage in one paragraph an analyst reads."""
    placed = cov["cells"] - cov["none"]
    share = (f" ({100 * cov['records_placed'] / cov['records']:.0f} % of the sessions and calls with a cell)"
             if cov["records"] else "")
    return (f"{cov['cells']:,} cells in the case, {placed:,} with a position{share}: "
            f"{cov['operator']:,} from the operator's own columns, {cov['chart']:,} from a CGI chart, "
            f"{cov['opencellid']:,} from OpenCelliD/MLS; {cov['none']:,} without a position")


def presence(seen: pd.DataFrame, cells: pd.Series, tz: str) -> pd.DataFrame:
    """Who was seen at each of these cells (``sightings``), per local day of ``tz``: how many
    sessions and call events, first and last time."""
    f = seen[seen["cell_id"].isin(set(cells))]
    local = f["start_utc"].dt.tz_convert(tz)
    g = f.assign(day=local.dt.strftime("%Y-%m-%d"), t=local).groupby(["cell_id", "msisdn", "day"], sort=True)
    out = pd.DataFrame({"records": g["record"].nunique(), "first": g["t"].min(), "last": g["t"].max()}).reset_index()
    for c in ("first", "last"):
        out[c] = out[c].dt.strftime("%H:%M:%S")
    return out
