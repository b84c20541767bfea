"""The summary as one printable HTML page: offline, escaped, in the case's zone and saying so."""

from __future__ import annotations

import html
from pathlib import Path

from cdrnet.analysis.summary import TOP_LINKS, CaseSummary, direct_title, header_lines, local, people_tables
from cdrnet.files import atomic_write_bytes
from cdrnet.viz.tables import html_table, printable_page

#: The page leads with what a briefing asks first; the long per-subscriber and per-dump lists close it.
PAGE_ORDER = ("strongest links", "direct contacts", "operators and layouts", "exports with no records", "data quality",
              "dumps", "subscribers")


def summary_html(s: CaseSummary) -> str:
    """The page: the header lines, then each table of :func:`people_tables`; every value escaped."""
    e = html.escape
    parts = [f"<p>{e(line)}</p>" for line in header_lines(s)]
    parts.append(f"<p>Generated {e(local(s.generated_utc, s.tz))} {e(s.tz)} by cdrnet; every time on this page "
                 f"is in {e(s.tz)}.</p>")
    tables = people_tables(s)
    for name in PAGE_ORDER:
        if name not in tables:  # no call records: no direct contacts to show
            continue
        table = tables[name]
        if name == "strongest links":
            if not len(table):
                continue
            name = f"strongest links (top {min(TOP_LINKS, s.link_count)} of {s.link_count})"
        elif name == "direct contacts":
            name = direct_title(s)
        parts.append(f"<h2>{e(name.capitalize())}</h2>")
        parts.append(html_table(table) if len(table) else "<p>(none)</p>")
    return printable_page(f"Case {s.case} at a glance", "\n".join(parts))


def write_summary_page(s: CaseSummary, path: Path) -> Path:
    """Write the page (atomically: a half-written page is never handed over)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, summary_html(s).encode("utf-8"))
    return path
