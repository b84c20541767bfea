"""Application usage trends (the paper's third component) for any application.

Connections list (Figure 7), connections per day, counts in 3-hour intervals
per day (CSV), charts by day of week (Figure 8) and time of day (Figure 9),
plus a day-of-week x hour heat map and the subscriber's active hours against
the whole case. Times are in the analyst's zone and every chart says which,
and over which dates.

Every file is per subscriber (``trends_<number>_<app>_*``, or ``trends_all_<app>_*``
for the whole case), so a second subscriber never overwrites the first.
Day-of-week figures are connections *per observed day of that weekday*: a
period with three Thursdays and two of every other day would otherwise make
Thursday the peak by the calendar alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cdrnet.csvsafe import write_csv
from cdrnet.loader.volumes import row_volumes

INTERVALS = [f"{h:02d}-{h + 3:02d}" for h in range(0, 24, 3)]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def app_sessions(frame: pd.DataFrame, app: str) -> pd.DataFrame:
    """Sessions whose application name (or vendor) contains ``app``, case-insensitive.

    ``WhatsApp`` therefore also counts ``Meta (WhatsApp/Facebook/Instagram)``
    sessions, which may be WhatsApp; the listing shows the exact application.
    Low-confidence labels (``XMPP (WhatsApp possible)``: port 5222 outside Meta's
    ranges) are left out: most such sessions are other XMPP services. The CLI's
    ``--possible-apps`` promotes them first (loader.signatures.promote_possible).
    """
    needle = app.lower()
    name = frame["app"].fillna("").str.lower()
    vendor = frame["app_vendor"].fillna("").str.lower()
    possible = frame["app_category"].fillna("").str.endswith("_possible")
    return frame[(name.str.contains(needle, regex=False) | (vendor == needle)) & ~possible]


def local_times(f: pd.DataFrame, tz: str) -> pd.Series:
    return f["start_utc"].dt.tz_convert(tz)


def connections(f: pd.DataFrame, tz: str) -> pd.DataFrame:
    """One row per connection: number, date, time, port, IP, application (Figure 7)."""
    t = local_times(f, tz)
    out = pd.DataFrame({"number": f["msisdn"].to_numpy(), "date": t.dt.strftime("%d/%m/%Y").to_numpy(),
                        "time": t.dt.strftime("%H:%M:%S").to_numpy(),
                        "port": pd.to_numeric(f["dest_port"], errors="coerce").astype("Int64").to_numpy(),
                        "ip": f["dest_ip"].to_numpy(), "application": f["app"].to_numpy(), "_t": t.to_numpy()})
    return out.sort_values(["number", "_t"], kind="stable").drop(columns="_t").reset_index(drop=True)


def per_day(f: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Connections per subscriber and local date, with their data volume when the layout has one.

    The volume is each row's share of its record (loader.volumes.row_volumes, computed on
    all applications' sessions before ``f`` was narrowed to one app), so a record's totals
    repeated on every flow row are counted once.
    """
    t = local_times(f, tz)
    keys = [f["msisdn"].to_numpy(), t.dt.date.to_numpy()]
    out = f.groupby(keys).size().rename("connections").rename_axis(["number", "date"]).reset_index()
    vol = f["volume_share"] if "volume_share" in f.columns else row_volumes(f)
    if vol.notna().any():
        per = vol.groupby(keys).sum(min_count=1).round().astype("Int64").to_numpy()
        out["volume_bytes"] = per
    return out


def three_hour_table(f: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Counts per subscriber and day in 3-hour intervals (00-03 … 21-24), with a total."""
    t = local_times(f, tz)
    slot = (t.dt.hour // 3).to_numpy()
    key = pd.DataFrame({"number": f["msisdn"].to_numpy(), "date": t.dt.date.to_numpy(), "slot": slot})
    table = key.groupby(["number", "date", "slot"]).size().unstack("slot", fill_value=0)
    table = table.reindex(columns=range(8), fill_value=0)
    table.columns = INTERVALS
    table["total"] = table.sum(axis=1)
    return table.reset_index()


@dataclass(frozen=True)
class Period:
    """The local dates a chart covers (first to last observed day, inclusive) and their zone."""

    first: dt.date
    last: dt.date
    tz: str

    @classmethod
    def of(cls, f: pd.DataFrame, tz: str) -> Period:
        """The period observed in ``f`` (all of a subscriber's sessions, not only one app's: a quiet
        Sunday on WhatsApp is still an observed Sunday)."""
        t = local_times(f, tz)
        return cls(t.min().date(), t.max().date(), tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def weekday_days(self) -> np.ndarray:
        """How many times each weekday (Mon..Sun) occurs in the period."""
        return np.bincount(pd.date_range(self.first, self.last, freq="D").day_of_week.to_numpy(), minlength=7)

    def text(self) -> str:
        return f"{self.first:%d %b %Y} to {self.last:%d %b %Y} ({self.days} days, times in {self.tz})"


def weekday_table(f: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Connections per weekday, the observed days of each, and their ratio (what the chart draws).

    A weekday the period never contains has no rate (NaN), not zero.
    """
    t = local_times(f, period.tz)
    dow = np.bincount(t.dt.day_of_week.to_numpy(), minlength=7)
    days = period.weekday_days()
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(days > 0, dow / np.maximum(days, 1), np.nan)
    return pd.DataFrame({"weekday": WEEKDAYS, "connections": dow, "observed_days": days,
                         "connections_per_day": rate})


def _counts(f: pd.DataFrame, tz: str) -> tuple[np.ndarray, np.ndarray]:
    t = local_times(f, tz)
    hour = np.bincount(t.dt.hour.to_numpy(), minlength=24)
    heat = np.zeros((7, 24), dtype=np.int64)
    np.add.at(heat, (t.dt.day_of_week.to_numpy(), t.dt.hour.to_numpy()), 1)
    return hour, heat


def charts(f: pd.DataFrame, case: pd.DataFrame, who: str, app: str, period: Period, case_period: Period,
           stem: str, out_dir: Path) -> list[Path]:
    """Day-of-week (per observed day), time-of-day, heat map and active-hours-vs-case PNGs.

    The numbers are computed here; cdrnet.viz.charts draws them. ``f`` must hold at least one
    session: a chart with nothing to draw is not written (the caller says why).
    """
    from cdrnet.viz.charts import trend_charts

    tz = period.tz
    hour, heat = _counts(f, tz)
    case_hour, _ = _counts(case, tz)
    return trend_charts(weekday_table(f, period), hour, heat, case_hour, who, app, period.text(), tz,
                        f"{period.first:%d %b} to {period.last:%d %b %Y}",
                        f"{case_period.first:%d %b} to {case_period.last:%d %b %Y}", stem, out_dir)


def file_tag(text: str) -> str:
    """A name part safe in file names on every OS."""
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text)


def _write_one(chosen: pd.DataFrame, case: pd.DataFrame, who: str, shown: str, app: str, period: Period,
               case_period: Period, d: Path) -> list[Path]:
    """All files for one subscriber (or the whole case): listing, per day, 3-hour table, weekday table, charts."""
    tz = period.tz
    stem = f"trends_{file_tag(shown)}_{file_tag(app)}"
    listing = connections(chosen, tz)
    written = []
    # Dates, times and hours in these CSVs are on the case's clock; each row names the zone, as a
    # CSV is often handed over without the text or charts that state it.
    p = d / f"{stem}_connections.csv"
    write_csv(listing.assign(zone=tz), p)
    written.append(p)
    p = d / f"{stem}_per_day.csv"
    write_csv(per_day(chosen, tz).assign(zone=tz), p)
    written.append(p)
    p = d / f"{stem}_3h.csv"
    write_csv(three_hour_table(chosen, tz).assign(zone=tz), p)
    written.append(p)
    p = d / f"{stem}_weekday.csv"
    write_csv(weekday_table(chosen, period).round({"connections_per_day": 3}), p)
    written.append(p)
    p = d / f"{stem}_connections.txt"
    from cdrnet.analysis.display import count, ports

    port = ports(listing["port"])
    lines = []
    for number, rows in listing.assign(port=port).groupby("number", sort=True):
        for r in rows.itertuples(index=False):
            lines.append(f"This number {number} connected to {r.application} at {r.time} "
                         f"on date {r.date} on port {r.port}")
            lines.append(f"The IP address was: {r.ip}")
        days = rows["date"].nunique()
        lines.append(f"This number was on {app} {count(len(rows))} times over {count(days)} day(s) "
                     f"between {period.first:%d/%m/%Y} and {period.last:%d/%m/%Y} (times in {tz}).")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(p)
    written.extend(charts(chosen, case, "all subscribers" if who == "all" else shown, app, period, case_period,
                          stem, d))
    return written


def write_trends(frame: pd.DataFrame, msisdns: list[str] | None, out_dir: str | Path, app: str = "WhatsApp",
                 tz: str = "Asia/Kolkata", show: Callable[[str], str] | None = None,
                 notify: Callable[[str], None] | None = None) -> list[Path]:
    """Write each subscriber's listing, per-day counts, 3-hour and weekday CSVs and charts; returns the paths.

    ``frame`` holds every application's sessions (the observed period of a subscriber is all of
    theirs); no ``msisdns`` means one set of files for the whole case. ``show`` maps a number to what
    outputs show (a pseudonym); ``notify`` receives one line for each subscriber with nothing to
    draw, whose files are not written.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    # Each row's share of its record's volume, before narrowing to one application.
    frame = frame.assign(volume_share=row_volumes(frame))
    case = app_sessions(frame, app)
    if show is None:
        show, shown_case = str, case
    else:  # one call per distinct number, not per row
        mapping = {u: show(u) for u in pd.unique(case["msisdn"])}
        shown_case = case.assign(msisdn=case["msisdn"].map(mapping))
    case_period = Period.of(frame, tz)
    written: list[Path] = []
    if not msisdns:
        if case.empty:
            if notify:
                notify(f"no {app} sessions in the case between {case_period.first:%d/%m/%Y} "
                       f"and {case_period.last:%d/%m/%Y}: nothing written")
            return written
        return _write_one(shown_case, shown_case, "all", "all", app, case_period, case_period, d)
    for m in msisdns:
        mine = frame[frame["msisdn"] == m]
        chosen = shown_case[(case["msisdn"] == m).to_numpy()]
        if mine.empty or chosen.empty:
            if notify:
                where = (f"between {Period.of(mine, tz).first:%d/%m/%Y} and {Period.of(mine, tz).last:%d/%m/%Y}"
                         if len(mine) else "in the loaded dumps")
                notify(f"{show(m)}: no {app} sessions {where}; no CSV or chart written for this number")
            continue
        written.extend(_write_one(chosen, shown_case, m, show(m), app, Period.of(mine, tz), case_period, d))
    return written
