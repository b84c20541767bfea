"""Charts for briefings (PNG): the persona's usage by application and the usage-trend charts.

Drawing only: the tables come from cdrnet.analysis (profile, trends), so what a chart shows
is computed once, beside the CSVs that carry the same numbers. Every chart states its
period and clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _plt():  # noqa: ANN202 - matplotlib.pyplot, imported lazily (headless backend)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:  # noqa: ANN001 - matplotlib objects
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def usage_chart(apps: pd.DataFrame, msisdn: str, path: Path, period_text: str = "") -> Path:
    """Bar chart of usage by application (the paper's Figure 4): ``apps`` has application,
    usage_percent and frequency columns, most used first; ``period_text`` (dates and zone) goes
    under the title, as on every chart a briefing may show without its text."""
    plt = _plt()
    shown = apps.head(12).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.barh(shown["application"], shown["usage_percent"], color="#4e79a7")
    for y, (v, f) in enumerate(zip(shown["usage_percent"], shown["frequency"], strict=True)):
        ax.text(v, y, f" {v:.1f}% ({f})", va="center", fontsize=8)
    ax.set_xlabel("usage percent of sessions")
    ax.set_title(f"Application usage of {msisdn}" + (f"\n{period_text}" if period_text else ""), fontsize=10)
    ax.set_xlim(0, max(100.0, float(shown["usage_percent"].max() if len(shown) else 0) * 1.15))
    return _save(plt, fig, path)


def trend_charts(week: pd.DataFrame, hour: np.ndarray, heat: np.ndarray, case_hour: np.ndarray, who: str, app: str,
                 period_text: str, tz: str, span: str, case_span: str, stem: str, out_dir: Path) -> list[Path]:
    """Day-of-week (per observed day), time-of-day, day x hour heat map and hours-vs-case PNGs.

    ``week`` is the weekday table (weekday, connections, observed_days, connections_per_day); ``hour``
    and ``case_hour`` count connections per hour of day, ``heat`` per (weekday, hour).
    """
    plt = _plt()
    days = week["observed_days"].to_numpy()
    weekdays = week["weekday"].tolist()
    written = []
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    bars = ax.bar(weekdays, week["connections_per_day"].fillna(0), color="#59a14f")
    for bar, n in zip(bars, days, strict=True):
        ax.annotate(f"{n} day{'s' if n != 1 else ''}" if n else "not observed", (bar.get_x() + bar.get_width() / 2, 0),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7, color="white" if n else "grey")
    ax.set_ylabel("connections per observed day")
    ax.set_title(f"{app} connections per day, by day of week - {who}\n{period_text}", fontsize=10)
    written.append(_save(plt, fig, out_dir / f"{stem}_weekday.png"))
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.bar(range(24), hour, color="#4e79a7")
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    ax.set_ylabel("connections")
    ax.set_title(f"{app} connections by time of day - {who}\n{period_text}", fontsize=10)
    written.append(_save(plt, fig, out_dir / f"{stem}_hour.png"))
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = np.where(days[:, None] > 0, heat / np.maximum(days, 1)[:, None], np.nan)
    im = ax.imshow(per_day, aspect="auto", cmap="viridis")
    ax.set_yticks(range(7), weekdays)
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
    ax.set_xlabel(f"hour of day ({tz})")
    ax.set_title(f"{app} connections, day of week x hour - {who}\n{period_text}", fontsize=10)
    fig.colorbar(im, ax=ax, label="per observed day")
    written.append(_save(plt, fig, out_dir / f"{stem}_heatmap.png"))
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.plot(range(24), 100 * hour / max(hour.sum(), 1), marker="o", label=f"{who}, {span}")
    ax.plot(range(24), 100 * case_hour / max(case_hour.sum(), 1), linestyle="--", color="grey",
            label=f"whole case, {case_span}")
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    ax.set_ylabel("% of connections")
    ax.set_title(f"Active hours on {app}: {who} vs the whole case\n(times in {tz})", fontsize=10)
    ax.legend(fontsize=8)
    written.append(_save(plt, fig, out_dir / f"{stem}_vs_case.png"))
    return written
