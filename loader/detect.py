"""Find the header line, its delimiter and its layout, wherever the header sits.

Operator exports put preambles (company name, "CDR OF MSISDN …", blank or
comma-padded lines) before the header, so the first lines are scanned rather
than assuming line 1.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from cdrnet.errors import UnknownLayoutError
from cdrnet.loader.dateorder import DateDecision
from cdrnet.loader.layouts import Layout, normalise_header
from cdrnet.loader.period import StatedPeriod, stated_period

DELIMITERS = (",", ";", "|", "\t")
SCAN_LINES = 200
EMPTY_EXPORT = re.compile(r"^\W*no\s+(?:records?|data)\s+found\W*$", re.IGNORECASE)
MIN_PREFIX = 6


@dataclass
class Detection:
    """Where the data starts and how to read it."""

    layout: Layout | None  # None: an empty export ("No Records Found")
    header_line: int  # 1-based; 0 when there is no header
    delimiter: str
    columns: list[str]
    index: dict[str, int]  # canonical field -> column position (the first of its names present)
    empty_export: bool = False
    stated: StatedPeriod | None = None  # the requested period as the preamble states it
    decision: DateDecision | None = None  # date order and period; None until the first block decides
    #: canonical field -> every column position holding one of its names, in preference order; a
    #: field with several (Destination_IP4 and Destination_IP6) takes each row's first non-empty.
    alternatives: dict[str, list[int]] = field(default_factory=dict)
    #: The export's own subscriber where the preamble names it (``CDR OF MSISDN : …``).
    stated_msisdn: str = ""
    #: A tower dump's cell as its preamble names it (``Call Details of CELL ID '405-52-…'``), raw.
    tower_cell: str = ""
    #: The preamble is a voice/SMS CDR's or a tower dump's (``Call Details of …``, ``Input Value``,
    #: ``CALL DATA RECORDS``): an empty one is an empty call export, not an empty IPDR.
    call_preamble: bool = False


def split_line(line: str, delimiter: str) -> list[str]:
    """Split one line with CSV quoting rules."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return line.split(delimiter)


#: A voice/SMS call record's defining columns: a call type and the other party. IPDRs and data
#: reports never carry both, so a header with both is a CDR whatever else it shares.
CALL_TYPE = re.compile(r"^call[ _]?type\b")
B_PARTY = re.compile(r"\bb[ _-]?party\b|^called party|^other/b-party")
#: Preamble lines naming the subscriber of an export: Airtel ``CDR OF MSISDN : 98…`` /
#: ``IPDR OF Mobile No : …``, Vi ``MSISDN:- …``.
STATED_MSISDN = re.compile(r"(?:msisdn|mobile\s*no\.?)\s*[:\-]*\s*'?\+?(\d{8,15})\b", re.IGNORECASE)
#: Jio CDR: ``Input Value (MSISDN/B PARTY/IMEI/IMSI/CELL ID) :,9008700825`` (10-13 digits: a
#: phone number, not an IMEI or IMSI searched the same way).
INPUT_VALUE = re.compile(r"^\W*input\s*value\b[^:]*:[\s,;|'\"]*\+?(\d{10,13})\b", re.IGNORECASE)
#: Airtel tower dump: ``Call Details of CELL ID '405-52-8192-…' from … to …``.
TOWER_CELL = re.compile(r"\bcell\s*id\s*[:\-]*\s*'([^']+)'", re.IGNORECASE)
CALL_PREAMBLE = re.compile(r"call\s+details\s+of|call\s+data\s+records|^\W*input\s*value\b|search\s+criteria",
                           re.IGNORECASE)


def _match(cells: list[str], layout: Layout, normal: list[str] | None = None) -> dict[str, list[int]] | None:
    """Positions of each mapped field's columns (every alternative name present), or None
    when a defining column is missing. ``normal``: the cells already through
    :func:`normalise_header` (detection normalises a line once, not once per layout)."""
    normal = normal if normal is not None else [normalise_header(c) for c in cells]
    positions: dict[str, list[int]] = {}
    # Required fields first: most lines scanned are data rows, and they fail there at once.
    for canon in [*layout.required, *(c for c in layout.normalised if c not in layout.required)]:
        names = layout.normalised.get(canon, ())
        found = [normal.index(n) for n in names if n in normal]
        if not found:
            # A header cut at a fixed width leaves a prefix of the last name.
            last = normal[-1] if normal else ""
            if len(last) >= MIN_PREFIX and any(n.startswith(last) for n in names):
                found = [len(normal) - 1]
        if found:
            positions[canon] = list(dict.fromkeys(found))
        elif canon in layout.required:
            return None
    positions = {c: positions[c] for c in layout.normalised if c in positions}
    if layout.required_any and not any(r in positions for r in layout.required_any):
        return None
    return positions


def call_record_columns(cells: list[str], normal: list[str] | None = None) -> tuple[str, str] | None:
    """The (call type, B party) column names when a header line is a voice/SMS CDR's."""
    normal = normal if normal is not None else [normalise_header(c) for c in cells]
    ct = next((c for c, n in zip(cells, normal, strict=True) if CALL_TYPE.search(n)), None)
    bp = next((c for c, n in zip(cells, normal, strict=True) if B_PARTY.search(n)), None)
    return (ct.strip(), bp.strip()) if ct and bp else None


def stated_msisdn(preamble: list[str]) -> str:
    """The subscriber number a preamble states, digits only ("" when none)."""
    for line in preamble:
        m = STATED_MSISDN.search(line) or INPUT_VALUE.search(line)
        if m:
            return m.group(1)
    return ""


def tower_cell(preamble: list[str]) -> str:
    """The cell a tower dump's preamble names ("" when the dump is not a tower dump)."""
    for line in preamble:
        if CALL_PREAMBLE.search(line):
            m = TOWER_CELL.search(line)
            if m:
                return m.group(1).strip()
    return ""


def call_preamble(preamble: list[str]) -> bool:
    """Whether the preamble is a call record's or a tower dump's."""
    return any(CALL_PREAMBLE.search(line) for line in preamble)


def header_candidates(lines: list[str],
                      delimiters: tuple[str, ...] = DELIMITERS) -> Iterator[tuple[int, str, list[str]]]:
    """Every (line index, delimiter, cells) that may be a header: each non-blank line of the first
    SCAN_LINES split by each delimiter it holds (dumps and cell-site lists are detected alike)."""
    for i, line in enumerate(lines[:SCAN_LINES]):
        if not line.strip():
            continue
        for delim in delimiters:
            if delim in line:
                yield i, delim, split_line(line, delim)


def detect(lines: list[str], layouts: list[Layout], file_name: str) -> Detection:
    """Pick the (line, delimiter, layout) whose header covers the most mapped fields."""
    best: tuple[float, int, str, Layout, list[str], dict[str, list[int]]] | None = None
    call_header: tuple[int, tuple[str, str]] | None = None
    for i, delim, cells in header_candidates(lines):
        if best is not None and i > best[1]:
            break  # the first header line decides: a second one further down is another part of the file
        if len(cells) < 3:
            continue
        normal = [normalise_header(c) for c in cells]
        cdr = call_record_columns(cells, normal)
        if cdr is not None and call_header is None:
            call_header = (i, cdr)
        for layout in layouts:
            if cdr is not None and layout.kind != "calls":
                continue  # a call record header is read by call layouts only
            pos = _match(cells, layout, normal)
            if pos is None:
                continue
            score = len(pos) / len(layout.fields)
            if best is None or score > best[0]:
                best = (score, i, delim, layout, cells, pos)
    if call_header is not None and (best is None or call_header[0] < best[1]):
        line_no, (ct, bp) = call_header
        raise UnknownLayoutError(
            f"{file_name}: line {line_no + 1} is a voice/SMS call record (CDR) header ('{ct}', '{bp}') "
            f"that no call layout fits",
            hint="describe its columns in a mapping file with kind = \"calls\" and pass it with --layout "
                 "(see docs/calls-and-towers.md)")
    if best is None:
        empty = any(EMPTY_EXPORT.match(line.strip().strip(",;|\t").strip()) for line in lines[:SCAN_LINES])
        if empty and not _has_unknown_header(lines[:SCAN_LINES]):
            head = lines[:SCAN_LINES]
            return Detection(None, 0, ",", [], {}, empty_export=True, stated=stated_period(head),
                             stated_msisdn=stated_msisdn(head), tower_cell=tower_cell(head),
                             call_preamble=call_preamble(head))
        names = ", ".join(sorted(layout.name for layout in layouts))
        raise UnknownLayoutError(
            f"{file_name}: no recognisable header in the first {SCAN_LINES} lines "
            f"(expected one of the layouts: {names})"
            + ("; it says 'No Records Found' under a header no layout knows" if empty else "")
        )
    _, i, delim, layout, cells, pos = best
    columns = _dedupe([c.strip() or f"_col{k}" for k, c in enumerate(cells)])
    columns = _pad_to_data(columns, lines[i + 1 : i + 1 + 50], delim)
    return Detection(layout, i + 1, delim, columns, {k: v[0] for k, v in pos.items()}, stated=stated_period(lines[:i]),
                     alternatives=pos, stated_msisdn=stated_msisdn(lines[:i]), tower_cell=tower_cell(lines[:i]),
                     call_preamble=call_preamble(lines[:i]))


def _has_unknown_header(lines: list[str]) -> bool:
    """Whether a line looks like a column header (five or more named cells).

    An empty export is a preamble and "No Records Found"; the same words under a header
    no layout knows (a voice CDR's, another tool's) are not an empty IPDR export.
    """
    for line in lines:
        for delim in DELIMITERS:
            if delim in line:
                cells = [c for c in split_line(line, delim) if c.strip()]
                if len(cells) >= 5 and sum(any(ch.isalpha() for ch in c) for c in cells) >= 5:
                    return True
    return False


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
