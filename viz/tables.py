"""HTML tables for the printable pages (evidence, summary): every value escaped, nothing fetched."""

from __future__ import annotations

import html

import pandas as pd

#: Content-Security-Policy of a printable page: no script, no request of any kind.
PRINT_CSP = "default-src 'none'; style-src 'unsafe-inline'"
#: The style of the printable pages (small type so wide tables fit an A4 page in landscape).
PRINT_CSS = """body { font-family: sans-serif; font-size: 11px; margin: 16px; } table { border-collapse: collapse; margin-bottom: 16px; }
td, th { border: 1px solid #999; padding: 2px 5px; } th { background: #eee; }
@media print { body { margin: 0; } }"""  # noqa: E501 - one CSS rule a line


def html_table(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table; headers and cells are escaped text."""
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in r) + "</tr>"
                   for r in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def printable_page(title: str, body: str) -> str:
    """A self-contained page (``body`` already escaped HTML) that makes no request and prints cleanly."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{PRINT_CSP}">
<title>{html.escape(title)}</title><style>
{PRINT_CSS}
</style></head><body>
<h1>{html.escape(title)}</h1>
{body}
</body></html>"""
