"""Subscriber persona (the paper's Table III and Figure 4), done properly.

Per application: sessions, usage percent, data volume, active days; plus first
and last seen, devices and SIMs with their date ranges, top cells and top
destinations (optionally with reverse DNS names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cdrnet.csvsafe import write_csv
from cdrnet.loader.volumes import row_volumes

UNKNOWN_APP = "(unidentified)"


@dataclass
class Profile:
    """Everything the persona report shows for one subscriber."""

    msisdn: str
    tz: str
    sessions: int
    first_seen: pd.Timestamp | None
    last_seen: pd.Timestamp | None
    apps: pd.DataFrame
    devices: pd.DataFrame
    sims: pd.DataFrame
    cells: pd.DataFrame
    destinations: pd.DataFrame
    #: The analyst's name or alias for the number (``--labels``), shown beside it.
    label: str = ""


def _ranges(f: pd.DataFrame, col: str, tz: str) -> pd.DataFrame:
    g = f[f[col].fillna("") != ""].groupby(col)["start_utc"]
    out = pd.DataFrame({"sessions": g.size(), "first": g.min(), "last": g.max()}).reset_index()
    for c in ("first", "last"):
        out[c] = out[c].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")
    return out.sort_values("first").reset_index(drop=True)


def build_profile(frame: pd.DataFrame, msisdn: str, tz: str = "Asia/Kolkata", top: int = 10,
                  rdns: dict[str, str] | None = None, label: str = "") -> Profile:
    """Compute the persona of one subscriber from canonical sessions."""
    f = frame[frame["msisdn"] == msisdn]
    n = len(f)
    app = f["app"].fillna("").replace("", UNKNOWN_APP)
    local_day = f["start_utc"].dt.tz_convert(tz).dt.date
    # A session with neither uplink nor downlink (Jio layouts carry no volumes) has no volume, not 0 B,
    # and sum(min_count=1) keeps an app with no volumes at all missing. Where a layout repeats its
    # record's totals on each flow row (Airtel), each record counts once, spread over its flows.
    vol = row_volumes(f)
    g = pd.DataFrame({"application": app, "vendor": f["app_vendor"].fillna(""), "day": local_day, "volume": vol})
    grouped = g.groupby("application")
    apps = grouped.agg(frequency=("day", "size"), vendor=("vendor", "first"), active_days=("day", "nunique"))
    apps["volume_bytes"] = grouped["volume"].sum(min_count=1).round().astype("Int64")
    apps = apps.reset_index()
    apps["usage_percent"] = (100.0 * apps["frequency"] / max(n, 1)).round(2)
    apps = apps.sort_values(["frequency", "application"], ascending=[False, True]).reset_index(drop=True)
    apps = apps[["application", "vendor", "frequency", "usage_percent", "volume_bytes", "active_days"]]
    cells = f[f["cell_id"].fillna("") != ""].groupby("cell_id").size().rename("sessions").reset_index()
    cells = cells.sort_values(["sessions", "cell_id"], ascending=[False, True]).head(top).reset_index(drop=True)
    dest = f[f["dest_ip"].fillna("") != ""].groupby(["dest_ip", "dest_port", "app"], dropna=False).size()
    dest = dest.rename("sessions").reset_index().sort_values(["sessions", "dest_ip"], ascending=[False, True]).head(top)
    dest = dest.reset_index(drop=True)
    dest["dest_port"] = pd.to_numeric(dest["dest_port"], errors="coerce").astype("Int64")  # 443, never 443.0
    if rdns is not None:
        dest["reverse_dns"] = dest["dest_ip"].map(rdns).fillna("")
    return Profile(
        msisdn=msisdn, tz=tz, sessions=n,
        first_seen=f["start_utc"].min() if n else None, last_seen=f["start_utc"].max() if n else None,
        apps=apps, devices=_ranges(f, "imei", tz), sims=_ranges(f, "imsi", tz), cells=cells, destinations=dest,
        label=label,
    )


def people_tables(p: Profile) -> dict[str, pd.DataFrame]:
    """The profile's tables as an analyst reads them: counts 1,234, volumes in kB/MB/GB, ports as
    integers, ``n/a`` where the layout has no value (the CSVs keep the raw numbers)."""
    from cdrnet.analysis import display

    apps = p.apps.assign(frequency=display.counts(p.apps["frequency"]),
                         usage_percent=p.apps["usage_percent"].map("{:.2f}".format),
                         volume_bytes=display.volumes(p.apps["volume_bytes"]),
                         active_days=display.counts(p.apps["active_days"])).rename(columns={"volume_bytes": "volume"})
    dest = p.destinations.assign(dest_port=display.ports(p.destinations["dest_port"]),
                                 sessions=display.counts(p.destinations["sessions"]))
    return {"apps": apps,
            "devices": p.devices.assign(sessions=display.counts(p.devices["sessions"])),
            "sims": p.sims.assign(sessions=display.counts(p.sims["sessions"])),
            "cells": p.cells.assign(sessions=display.counts(p.cells["sessions"])),
            "destinations": dest}


def profile_text(p: Profile) -> str:
    """The readable report (the paper's Step 5 text file)."""
    from cdrnet.analysis.display import count

    def when(ts: pd.Timestamp | None) -> str:
        return ts.tz_convert(p.tz).strftime("%Y-%m-%d %H:%M") if ts is not None else "-"

    t = people_tables(p)

    def table(name: str) -> str:
        return t[name].to_string(index=False) if len(t[name]) else "(none)"

    out = [f"Profile of {p.msisdn}" + (f" ({p.label})" if p.label else ""),
           f"sessions: {count(p.sessions)}; first seen {when(p.first_seen)}, "
           f"last seen {when(p.last_seen)} ({p.tz})", "",
           "Application usage (Table III)", table("apps"), "",
           "Devices (IMEI)", table("devices"), "",
           "SIMs (IMSI)", table("sims"), "",
           "Top cells", table("cells"), "",
           "Top destinations", table("destinations")]
    return "\n".join(out) + "\n"


def usage_chart(p: Profile, path: Path) -> Path:
    """Bar chart of usage by application (the paper's Figure 4), drawn by cdrnet.viz.charts."""
    from cdrnet.viz.charts import usage_chart as draw

    period = ""
    if p.first_seen is not None and p.last_seen is not None:
        first, last = (t.tz_convert(p.tz) for t in (p.first_seen, p.last_seen))
        period = f"{first:%d %b %Y} to {last:%d %b %Y} (times in {p.tz})"
    return draw(p.apps, p.msisdn, path, period)


def write_profile(frame: pd.DataFrame, msisdn: str, out_dir: str | Path, tz: str = "Asia/Kolkata",
                  rdns: dict[str, str] | None = None, label: str = "") -> list[Path]:
    """Write profile_<msisdn>.txt, _apps.csv, _destinations.csv and _apps.png."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    p = build_profile(frame, msisdn, tz, rdns=rdns, label=label)
    txt = d / f"profile_{msisdn}.txt"
    txt.write_text(profile_text(p), encoding="utf-8")
    csv_apps = d / f"profile_{msisdn}_apps.csv"
    write_csv(p.apps, csv_apps)
    csv_dest = d / f"profile_{msisdn}_destinations.csv"
    write_csv(p.destinations, csv_dest)
    png = usage_chart(p, d / f"profile_{msisdn}_apps.png")
    return [txt, csv_apps, csv_dest, png]
