"""Find the header line, its delimiter and its layout, wherever the header sits.

Operator exports put preambles (company name, "CDR OF MSISDN …", blank or
comma-padded lines) before the header, so the first lines are scanned rather
than assuming line 1.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass

from cdrnet.errors import UnknownLayoutError
from cdrnet.loader.dateorder import DateDecision
from cdrnet.loader.layouts import Layout, normalise_header
from cdrnet.loader.period import StatedPeriod, stated_period

DELIMITERS = (",", ";", "|", "\t")
SCAN_LINES = 200
EMPTY_EXPORT = re.compile(r"^\W*no\s+records?\s+found\W*$", re.IGNORECASE)
MIN_PREFIX = 6


@dataclass
class Detection:
    """Where the data starts and how to read it."""

    layout: Layout | None  # None: an empty export ("No Records Found")
    header_line: int  # 1-based; 0 when there is no header
    delimiter: str
    columns: list[str]
    index: dict[str, int]  # canonical field -> column position
    empty_export: bool = False
    stated: StatedPeriod | None = None  # the requested period as the preamble states it
    decision: DateDecision | None = None  # date order and period; None until the first block decides


def split_line(line: str, delimiter: str) -> list[str]:
    """Split one line with CSV quoting rules."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


def _match(cells: list[str], layout: Layout) -> dict[str, int] | None:
    normal = [normalise_header(c) for c in cells]
    positions: dict[str, int] = {}
    for canon, expected in layout.normalised.items():
        if expected in normal:
            positions[canon] = normal.index(expected)
            continue
        # A header cut at a fixed width leaves a prefix of the last name.
        for i, cell in enumerate(normal):
            if len(cell) >= MIN_PREFIX and expected.startswith(cell) and i == len(normal) - 1:
                positions[canon] = i
                break
    if all(r in positions for r in layout.required):
        return positions
    return None


def detect(lines: list[str], layouts: list[Layout], file_name: str) -> Detection:
    """Pick the (line, delimiter, layout) whose header covers the most mapped fields."""
    best: tuple[float, int, str, Layout, list[str], dict[str, int]] | None = None
    for i, line in enumerate(lines[:SCAN_LINES]):
        if not line.strip():
            continue
        for delim in DELIMITERS:
            if delim not in line:
                continue
            cells = split_line(line, delim)
            if len(cells) < 3:
                continue
            for layout in layouts:
                pos = _match(cells, layout)
                if pos is None:
                    continue
                score = len(pos) / len(layout.fields)
                if best is None or score > best[0]:
                    best = (score, i, delim, layout, cells, pos)
        if best is not None and best[0] == 1.0:
            break
    if best is None:
        if any(EMPTY_EXPORT.match(line.strip().strip(",;|\t").strip()) for line in lines[:SCAN_LINES]):
            return Detection(None, 0, ",", [], {}, empty_export=True, stated=stated_period(lines[:SCAN_LINES]))
        names = ", ".join(sorted(layout.name for layout in layouts))
        raise UnknownLayoutError(
            f"{file_name}: no recognisable header in the first {SCAN_LINES} lines "
            f"(expected one of the layouts: {names})"
        )
    _, i, delim, layout, cells, pos = best
    columns = _dedupe([c.strip() or f"_col{k}" for k, c in enumerate(cells)])
    columns = _pad_to_data(columns, lines[i + 1 : i + 1 + 50], delim)
    return Detection(layout, i + 1, delim, columns, pos, stated=stated_period(lines[:i]))


def _dedupe(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for n in names:
        seen[n] += 1
        out.append(n if seen[n] == 1 else f"{n}.{seen[n] - 1}")
    return out


def _pad_to_data(columns: list[str], sample: list[str], delim: str) -> list[str]:
    """Extend a header that was cut short so rows with more fields still parse."""
    counts = Counter(len(split_line(s, delim)) for s in sample if s.strip())
    if not counts:
        return columns
    modal, _ = counts.most_common(1)[0]
    if modal > len(columns):
        columns = columns + [f"_extra{k}" for k in range(modal - len(columns))]
    return columns
