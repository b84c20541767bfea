"""Operators' re-sends: a dump's rows sent again in another file, some with a corrected cell.

Operators send a period again when the first export was incomplete or wrong, and the second copy
of a session can differ from the first in the details the session key leaves out (the cell:
cdrnet/model.py ``SESSION_KEY_COLUMNS``). Every store keeps the first-ingested dump's copy (README,
"Operators' resends"); this makes the shape for the simulator (``Scenario.resent_dumps``) and for
the tests that check that rule, in any of the exports' layouts (IPDRs and CDRs alike).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

#: Columns that say where a row was: the cell and what goes with it (its name, its CGI position).
CELL_COLUMN = re.compile(r"cell|cgi|bts", re.IGNORECASE)


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _cell_columns(names: list[str]) -> list[int]:
    """The cell columns of a header; none for a preamble line (a few fields naming a cell id)."""
    return [i for i, c in enumerate(names) if CELL_COLUMN.search(c)] if len(names) > 5 else []


def write_resend(src: Path, dest: Path, *, from_share: float = 0.5, every: int = 4, blank_every: int = 0) -> int:
    """Write ``dest``: ``src`` sent again, from its data row at ``from_share`` of them on, with every
    ``every``-th of those rows placed at the cell of the next row that names another one (all its cell
    columns together, so a CGI's name and position stay its own) and every ``blank_every``-th (0:
    none) without a cell. Preamble, header and footer (the lines after the last row of the header's
    width) are kept. Returns how many rows changed. ``dest`` may be ``src``.
    """
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if _cell_columns(_fields(line))), None)
    if at is None:
        raise ValueError(f"{src.name}: no header with a cell column")
    names = _fields(lines[at])
    cols = _cell_columns(names)
    rows = [_fields(line) for line in lines[at + 1:]]
    data = [k for k, r in enumerate(rows) if len(r) == len(names)]
    if not data:
        return 0
    end = data[-1] + 1  # the footer follows the last row of the header's width
    start = int(len(data) * from_share)
    begin = data[start] if start else 0
    changed = 0
    for n, pos in enumerate(range(start, len(data))):
        blank = bool(blank_every) and n % blank_every == 0
        if n % every and not blank:
            continue
        row = rows[data[pos]]
        if blank:
            new = ["" for _ in cols]
        else:
            other = next((rows[data[j]] for j in range(pos + 1, len(data))
                          if rows[data[j]][cols[0]] != row[cols[0]]), None)
            if other is None:
                continue
            new = [other[i] for i in cols]
        if [row[i] for i in cols] == new:
            continue
        for i, v in zip(cols, new, strict=True):
            row[i] = v
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(row)
        line = at + 1 + data[pos]
        lines[line] = out.getvalue() + lines[line][len(lines[line].rstrip("\r\n")):]
        changed += 1
    kept = lines[: at + 1] + lines[at + 1 + begin: at + 1 + end] + lines[at + 1 + end:]
    dest.write_text("".join(kept), encoding="utf-8")
    return changed
