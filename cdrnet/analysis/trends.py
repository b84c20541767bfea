"""Application usage trends (the paper's third component) for any application.

Connections list (Figure 7), connections per day, counts in 3-hour intervals
per day (CSV), charts by day of week (Figure 8) and time of day (Figure 9),
plus a day-of-week x hour heat map and the subscriber's active hours against
the whole case. Times are in the analyst's zone and every chart says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

INTERVALS = [f"{h:02d}-{h + 3:02d}" for h in range(0, 24, 3)]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def app_sessions(frame: pd.DataFrame, app: str) -> pd.DataFrame:
    """Sessions whose application name (or vendor) contains ``app``, case-insensitive.

    ``WhatsApp`` therefore also counts ``Meta (WhatsApp/Facebook/Instagram)``
    sessions, which may be WhatsApp; the listing shows the exact application.
    """
    needle = app.lower()
    name = frame["app"].fillna("").str.lower()
    vendor = frame["app_vendor"].fillna("").str.lower()
    return frame[name.str.contains(needle, regex=False) | (vendor == needle)]


def local_times(f: pd.DataFrame, tz: str) -> pd.Series:
    return f["start_utc"].dt.tz_convert(tz)


def connections(f: pd.DataFrame, tz: str) -> pd.DataFrame:
    """One row per connection: number, date, time, port, IP, application (Figure 7)."""
    t = local_times(f, tz)
    out = pd.DataFrame({"number": f["msisdn"].to_numpy(), "date": t.dt.strftime("%d/%m/%Y").to_numpy(),
                        "time": t.dt.strftime("%H:%M:%S").to_numpy(), "port": f["dest_port"].astype("Int64").to_numpy(),
                        "ip": f["dest_ip"].to_numpy(), "application": f["app"].to_numpy(), "_t": t.to_numpy()})
    return out.sort_values(["number", "_t"], kind="stable").drop(columns="_t").reset_index(drop=True)


def per_day(f: pd.DataFrame, tz: str) -> pd.DataFrame:
    t = local_times(f, tz)
    return f.groupby([f["msisdn"].to_numpy(), t.dt.date.to_numpy()]).size().rename("connections").rename_axis(["number", "date"]).reset_index()


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


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _counts(f: pd.DataFrame, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = local_times(f, tz)
    dow = np.bincount(t.dt.day_of_week.to_numpy(), minlength=7)
    hour = np.bincount(t.dt.hour.to_numpy(), minlength=24)
    heat = np.zeros((7, 24), dtype=np.int64)
    np.add.at(heat, (t.dt.day_of_week.to_numpy(), t.dt.hour.to_numpy()), 1)
    return dow, hour, heat


def charts(f: pd.DataFrame, case: pd.DataFrame, who: str, app: str, tz: str, out_dir: Path) -> list[Path]:
    """Day-of-week, time-of-day, heat map and active-hours-vs-case PNGs."""
    plt = _plt()
    dow, hour, heat = _counts(f, tz)
    written = []
    stem = f"trends_{who}_{app}".replace(" ", "_").replace("/", "_")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.bar(WEEKDAYS, dow, color="#59a14f")
    ax.set_ylabel("connections")
    ax.set_title(f"{app} connections by day of week - {who}\n(times in {tz})")
    fig.tight_layout()
    written.append(out_dir / f"{stem}_weekday.png")
    fig.savefig(written[-1])
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.bar(range(24), hour, color="#4e79a7")
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    ax.set_ylabel("connections")
    ax.set_title(f"{app} connections by time of day - {who}\n(times in {tz})")
    fig.tight_layout()
    written.append(out_dir / f"{stem}_hour.png")
    fig.savefig(written[-1])
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    im = ax.imshow(heat, aspect="auto", cmap="viridis")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
    ax.set_xlabel(f"hour of day ({tz})")
    ax.set_title(f"{app} connections, day of week x hour - {who}")
    fig.colorbar(im, ax=ax, label="connections")
    fig.tight_layout()
    written.append(out_dir / f"{stem}_heatmap.png")
    fig.savefig(written[-1])
    plt.close(fig)
    _, case_hour, _ = _counts(case, tz)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.plot(range(24), 100 * hour / max(hour.sum(), 1), marker="o", label=who)
    ax.plot(range(24), 100 * case_hour / max(case_hour.sum(), 1), linestyle="--", color="grey", label="whole case")
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    ax.set_ylabel("% of connections")
    ax.set_title(f"Active hours on {app}: {who} vs the whole case\n(times in {tz})")
    ax.legend()
    fig.tight_layout()
    written.append(out_dir / f"{stem}_vs_case.png")
    fig.savefig(written[-1])
    plt.close(fig)
    return written


def write_trends(frame: pd.DataFrame, msisdns: list[str] | None, out_dir: str | Path, app: str = "WhatsApp",
                 tz: str = "Asia/Kolkata") -> list[Path]:
    """Write the listing, per-day counts, the 3-hour CSV and the charts; returns the paths."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    case = app_sessions(frame, app)
    chosen = case[case["msisdn"].isin(msisdns)] if msisdns else case
    tag = app.replace(" ", "_").replace("/", "_")
    written = []
    listing = connections(chosen, tz)
    p = d / f"trends_{tag}_connections.csv"
    listing.to_csv(p, index=False)
    written.append(p)
    p = d / f"trends_{tag}_per_day.csv"
    per_day(chosen, tz).to_csv(p, index=False)
    written.append(p)
    p = d / f"trends_{tag}_3h.csv"
    three_hour_table(chosen, tz).to_csv(p, index=False)
    written.append(p)
    p = d / f"trends_{tag}_connections.txt"
    lines = []
    for number, rows in listing.groupby("number", sort=True):
        for r in rows.itertuples(index=False):
            lines.append(f"This number {number} connected to {r.application} at {r.time} on date {r.date} on port {r.port}")
            lines.append(f"The IP address was: {r.ip}")
        days = rows["date"].nunique()
        lines.append(f"This number was on {app} {len(rows)} times over {days} day(s) (times in {tz}).")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(p)
    for who in (msisdns or []):
        written.extend(charts(chosen[chosen["msisdn"] == who], case, who, app, tz, d))
    if not msisdns:
        written.extend(charts(chosen, case, "all subscribers", app, tz, d))
    return written
