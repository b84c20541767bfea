"""Day-first or month-first: decided per dump, never assumed.

Indian operators write day-first (``14/07/2023``), but a dump re-saved through
Excel on a US-locale machine comes back month-first (``07/14/2023 11:34``)
while its preamble still says ``from 01-Jul-2023``. Reading such a dump in the
wrong order puts rows months away from where they happened, and every date up
to the 12th reads "validly" both ways, so a wrong guess is silent.

The decision is taken once per dump, on its first block (every date cell of
it, vectorised with Arrow's regex kernel):

1. ``--date-order dmy|mdy`` wins (source ``option``);
2. a first field above 12 means day-first, a second field above 12 month-first
   (source ``data``); both seen means the dump contradicts itself: refused;
3. every date ambiguous (both fields <= 12): the order under which the dates
   fall inside the period the preamble states wins (source ``preamble``); if
   both orders fit, or neither, it is still ambiguous;
4. still ambiguous, but the export's own header states the format (Jio and the
   DoT uniform layout write ``(dd/mm/yyyy)`` into their column names): that
   order (source ``header``) -- after the data and the period, because an
   Excel re-save changes the dates but not the header text;
5. still ambiguous, but the dump's preamble states its period and shows no
   spreadsheet re-save (Excel pads every preamble row with empty fields when it
   saves a CSV, and only a re-save on another locale's machine turns the dates
   around): the layout's own order (source ``layout``; Airtel's CDR writes
   ``02/03/2026`` day-first, and the shipped sample reads so). Both readings of
   such a dump's rows fit both readings of its period, so nothing else in it can
   tell them apart;
6. still ambiguous: refused with ``DateOrderError`` naming the file, why, and
   ``--date-order`` with what each order would make of one of its dates.

Layouts write numeric dates with ``%d`` and ``%m``; the loader renders such a
format in the decided order (``formats_for_order``). Text months (``%b``) and
year-first dates are unambiguous and never change.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.errors import DateOrderError
from cdrnet.loader import native
from cdrnet.loader.fixedtime import large_strings, leading_bytes
from cdrnet.loader.period import StatedPeriod, to_utc
from cdrnet.loader.timeparse import parse_local

ORDERS = ("dmy", "mdy")
#: Day and month as the first two numeric fields of a date (``07/14/2023``, ``14-07-23``).
NUMERIC_DATE = r"^\s*(?P<f1>\d{1,2})[-/.](?P<f2>\d{1,2})[-/.](?P<y>\d{4}|\d{2})(?:\D|$)"
#: Share of a dump's ambiguous dates that must fall inside the stated period for an order to fit.
FIT_SHARE = 0.9


def is_order_sensitive(fmt: str) -> bool:
    """A format whose day and month are both numeric and come before the year (``%d/%m/%Y``)."""
    if "%d" not in fmt or "%m" not in fmt:
        return False
    year = min((fmt.find(y) for y in ("%Y", "%y") if y in fmt), default=len(fmt))
    return fmt.find("%d") < year and fmt.find("%m") < year


def _swap(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def render_format(fmt: str, order: str) -> str:
    """An order-sensitive format in ``order``; whichever of %d/%m a layout wrote first is the first field."""
    first_is_day = fmt.find("%d") < fmt.find("%m")
    want_day_first = order == "dmy"
    return fmt if first_is_day == want_day_first else _swap(fmt)


def formats_for_order(formats: tuple[str, ...], order: str) -> tuple[str, ...]:
    """The layout's formats for a dump read in ``order`` ("" = undecided: numeric day/month dropped)."""
    out = []
    for fmt in formats:
        if not is_order_sensitive(fmt):
            out.append(fmt)
        elif order in ORDERS:
            out.append(render_format(fmt, order))
    if "ISO8601" not in out:
        out.append("ISO8601")  # unambiguous; XLSX date cells are rendered this way
    return tuple(dict.fromkeys(out))


def sensitive_formats(formats: tuple[str, ...], order: str) -> tuple[str, ...]:
    """Only the numeric day/month formats, rendered in ``order`` (to test a row against one order)."""
    return tuple(dict.fromkeys(render_format(f, order) for f in formats if is_order_sensitive(f)))


@dataclass(frozen=True)
class DateDecision:
    """The dump's date order and requested period, as recorded on its report."""

    order: str = ""  # "dmy" | "mdy" | "" (no numeric day/month dates to decide)
    source: str = ""  # "data" | "preamble" | "option" | ""
    period_start_utc: pd.Timestamp | None = None
    period_end_utc: pd.Timestamp | None = None
    note: str = ""


def numeric_fields(texts: pd.Series | pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First field, second field and year of every numeric date (other cells are dropped).

    ``NUMERIC_DATE`` by bytes where the answer is plain from a cell's first bytes: a
    zero-padded ``dd/dd/dddd`` (the usual export) is read, and a cell that starts neither
    with space nor with ``d/`` or ``dd/`` followed by a digit (``17-Jul-2023``) cannot match.
    Only the other cells go through Arrow's regex (tests/test_fixedtime.py checks the two agree).
    """
    arr = large_strings(texts)
    fields = native.date_fields(arr)
    status, f1, f2, y = fields if fields is not None else date_fields_pure(arr)
    found = status == 1
    rest = np.flatnonzero(status == 2)
    if len(rest):
        parts = pc.extract_regex(arr.take(pa.array(rest)), NUMERIC_DATE)
        valid = pc.is_valid(parts).to_numpy(zero_copy_only=False)
        if valid.any():
            parts = pc.filter(parts, pa.array(valid))
            hit = rest[valid]
            f1[hit], f2[hit], y[hit] = (pc.cast(pc.struct_field(parts, k), pa.int64()).to_numpy()
                                        for k in ("f1", "f2", "y"))
            found[hit] = True
    f1, f2, y = f1[found], f2[found], y[found]
    return f1, f2, np.where(y < 100, y + 2000, y)


def date_fields_pure(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each value's (status, first field, second field, year) from its first 11 bytes: status 1 for
    a zero-padded ``dd/dd/dddd`` (any of ``-/.``) not followed by a digit, read; 2 for a value only
    ``NUMERIC_DATE`` can settle (a leading space, control or non-ASCII byte, or ``d[-/.]d`` or
    ``dd[-/.]d`` at the start); 0 for one that cannot match. The kernel's reference
    (``native.date_fields``, one pass where this is ~25 numpy passes)."""
    head = leading_bytes(arr, 11)
    digit = head - np.uint8(ord("0"))  # wraps below "0": ``<= 9`` checks both ends
    is_digit = digit <= 9
    is_sep = (head == ord("-")) | (head == ord("/")) | (head == ord("."))
    fast = is_digit[[0, 1, 3, 4, 6, 7, 8, 9]].all(axis=0) & is_sep[2] & is_sep[5] & ~is_digit[10]
    f1 = digit[0].astype(np.int64) * 10 + digit[1]
    f2 = digit[3].astype(np.int64) * 10 + digit[4]
    y = ((digit[6].astype(np.int64) * 10 + digit[7]) * 10 + digit[8]) * 10 + digit[9]
    # No leading space (nor anything unusual) and neither ``d[-/.]d`` nor ``dd[-/.]d``: no match.
    plain = (head[0] > 0x20) & (head[0] < 0x80)
    shaped = is_digit[0] & ((is_sep[1] & is_digit[2]) | (is_digit[1] & is_sep[2] & is_digit[3]))
    status = np.where(fast, 1, np.where(~plain | shaped, 2, 0)).astype(np.uint8)
    return status, f1, f2, y


def numeric_fields_of(columns: list[pd.Series] | list[pa.Array]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`numeric_fields` of several columns one after the other (no concatenated copy)."""
    parts = [numeric_fields(c) for c in columns]
    if not parts:
        return (np.zeros(0, np.int64),) * 3
    f1, f2, y = (np.concatenate(p) for p in zip(*parts, strict=True))
    return f1, f2, y


def _dates(day: np.ndarray, month: np.ndarray, year: np.ndarray) -> pd.Series:
    """Calendar dates from fields, NaT where no such date (31/02)."""
    return pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")


def _fit(f1: np.ndarray, f2: np.ndarray, year: np.ndarray, order: str,
         period: tuple[pd.Timestamp, pd.Timestamp]) -> float:
    """Share of the dates that fall on a day of the (local) period when read in ``order``."""
    day, month = (f1, f2) if order == "dmy" else (f2, f1)
    dates = _dates(day, month, year)
    lo, hi = period[0].normalize(), period[1].normalize()
    return float(((dates >= lo) & (dates <= hi)).mean()) if len(dates) else 0.0


HEADER_ORDER = {"dmy": re.compile(r"\bdd[-/.]mm[-/.]yy", re.IGNORECASE),
                "mdy": re.compile(r"\bmm[-/.]dd[-/.]yy", re.IGNORECASE)}


def header_order(headers: list[str]) -> str:
    """The date order an export's column names state (``Start Date (dd/mm/yyyy)``), or ""."""
    found = {o for o, rx in HEADER_ORDER.items() for h in headers if rx.search(h)}
    return found.pop() if len(found) == 1 else ""


def layout_order(formats: tuple[str, ...]) -> str:
    """The order the layout writes its numeric dates in ("" when it has none, or both)."""
    found = {"dmy" if f.find("%d") < f.find("%m") else "mdy" for f in formats if is_order_sensitive(f)}
    return found.pop() if len(found) == 1 else ""


def stated_readings(start_text: str, end_text: str) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """:meth:`StatedPeriod.readings` of a period's texts, remembered: a case's dumps mostly state one
    of a few periods (the 400-dump case: 43 distinct in 127 preambles), and each reading tries up to
    ~30 ``strptime`` formats (~0.3 ms a dump). A fresh dict each call (callers may keep it)."""
    return dict(_readings(start_text, end_text))


@functools.lru_cache(maxsize=4096)
def _readings(start_text: str, end_text: str) -> tuple[tuple[str, tuple[pd.Timestamp, pd.Timestamp]], ...]:
    return tuple(StatedPeriod(start_text, end_text, "").readings().items())


def decide(name: str, date_cells: list[pd.Series] | list[pa.Array], start_cells: list[pd.Series] | list[pa.Array],
           stated: StatedPeriod | None,
           formats: tuple[str, ...], option: str, tz: str, stated_by_header: str = "") -> DateDecision:
    """Decide the dump's date order and period from its first block (see the module doc)."""
    sensitive = any(is_order_sensitive(f) for f in formats)
    f1, f2, _ = numeric_fields_of(date_cells) if sensitive else (np.zeros(0, np.int64),) * 3
    readings = stated_readings(stated.start_text, stated.end_text) if stated is not None else {}
    distinct = {v for v in readings.values()}
    period = next(iter(distinct)) if len(distinct) == 1 else None
    note = ""
    if stated is not None and not readings:
        note = f"the stated period '{stated.start_text} .. {stated.end_text}' could not be read"

    if option in ORDERS:
        order, source = option, "option"
    elif not len(f1):
        order, source = "", ""
    else:
        valid = (f1 >= 1) & (f2 >= 1) & (f1 <= 31) & (f2 <= 31)
        day_first = valid & (f1 > 12) & (f2 <= 12)
        month_first = valid & (f2 > 12) & (f1 <= 12)
        if day_first.any() and month_first.any():
            a = int(np.flatnonzero(day_first)[0])
            b = int(np.flatnonzero(month_first)[0])
            raise DateOrderError(
                f"{name}: dates contradict each other ({f1[a]:02d}/{f2[a]:02d} reads only day-first, "
                f"{f1[b]:02d}/{f2[b]:02d} only month-first): the dump mixes date orders; fix the file, "
                f"or force one with --date-order dmy|mdy (rows that do not read are then rejected)"
            )
        if day_first.any():
            order, source = "dmy", "data"
        elif month_first.any():
            order, source = "mdy", "data"
        else:
            try:
                order, source = _by_period(name, start_cells, stated, period, sensitive)
            except DateOrderError:
                native = layout_order(formats)
                if stated_by_header:
                    order, source = stated_by_header, "header"
                elif stated is not None and not stated.resaved and native:
                    order, source = native, "layout"
                else:
                    raise
    if period is None and len(distinct) == 2:
        period, note = _pick_reading(stated, readings, start_cells, formats, order)
    if period is None:
        return DateDecision(order, source, note=note)
    return DateDecision(order, source, _period_utc(period[0], tz), _period_utc(period[1], tz), note)



@functools.lru_cache(maxsize=4096)
def _period_utc(local: pd.Timestamp, tz: str) -> pd.Timestamp:
    """:func:`~cdrnet.loader.period.to_utc`, remembered: it builds a Series to convert one time (~1 ms),
    once for each end of every dump's stated period, and a case's dumps state the same few periods."""
    return to_utc(local, tz)


def _as_written(start_cells: list[pd.Series] | list[pa.Array], f1: int, f2: int, year: int) -> str:
    """The first date reading as these fields, as the file writes it (``01.07.2023``, ``1/7/23``).

    The message quotes it so that the analyst finds it in the file; rebuilt from the fields it read
    ``01/07/2023`` for a file that writes ``01.07.2023``. Only on the way to an error: a Python pass
    over the cells up to the first hit.
    """
    rx = re.compile(NUMERIC_DATE)
    for cells in start_cells:
        for text in large_strings(cells).to_pylist():
            m = rx.match(text) if text else None
            if m and (int(m["f1"]), int(m["f2"])) == (f1, f2) and int(m["y"]) % 100 == year % 100:
                return f"{m['f1']}{text[m.end('f1')]}{m['f2']}{text[m.end('f2')]}{m['y']}"
    return f"{f1:02d}/{f2:02d}/{year}"


def _by_period(name: str, start_cells: list[pd.Series], stated: StatedPeriod | None,
               period: tuple[pd.Timestamp, pd.Timestamp] | None, sensitive: bool) -> tuple[str, str]:
    """Every date reads both ways: the order whose dates fall inside the stated period wins."""
    f1, f2, year = numeric_fields_of(start_cells) if sensitive else (np.zeros(0, np.int64),) * 3
    differ = f1 != f2  # 03/03 reads the same both ways and says nothing
    f1, f2, year = f1[differ], f2[differ], year[differ]
    example = _as_written(start_cells, f1[0], f2[0], year[0]) if len(f1) else "every date"
    option = "re-run with --date-order dmy or --date-order mdy"
    if len(f1):
        dmy, mdy = _dates(f1[:1], f2[:1], year[:1]).iloc[0], _dates(f2[:1], f1[:1], year[:1]).iloc[0]
        if pd.notna(dmy) and pd.notna(mdy):
            option = (f"re-run this file with --date-order dmy (if {example} is {dmy.day} {dmy:%B %Y}) or "
                      f"--date-order mdy (if it is {mdy.day} {mdy:%B %Y})")
    if period is not None and len(f1):
        fits = [o for o in ORDERS if _fit(f1, f2, year, o, period) >= FIT_SHARE]
        if len(fits) == 1:
            return fits[0], "preamble"
        why = ("both day-first and month-first readings fall inside the stated period" if fits
               else "neither reading falls inside the stated period")
    elif stated is not None and period is None:
        why = "the stated period itself reads both ways"
    else:
        why = "no period is stated in the preamble to decide"
    if stated is not None and stated.resaved:
        why += " (the file was re-saved through a spreadsheet: its preamble rows are padded with empty fields)"
    raise DateOrderError(
        f"{name}: cannot tell day-first from month-first: every date reads both ways (e.g. {example}) and {why}; "
        f"{option}"
    )


def _pick_reading(stated: StatedPeriod | None, readings: dict[str, tuple[pd.Timestamp, pd.Timestamp]],
                  start_cells: list[pd.Series], formats: tuple[str, ...],
                  order: str) -> tuple[tuple[pd.Timestamp, pd.Timestamp] | None, str]:
    """A period stated as ``02-03-2026 … 03-03-2026`` reads two ways: keep the one the rows fall in."""
    cells = [c if isinstance(c, pd.Series) else pd.Series(pd.arrays.ArrowStringArray(c)) for c in start_cells]
    starts = pd.concat(cells, ignore_index=True) if cells else pd.Series([], dtype="string")
    fmts = formats_for_order(formats, order)
    # Call records put the date and the time in two columns: a start cell may hold a date alone.
    fmts = (*fmts, *dict.fromkeys(f.split(" ")[0] for f in fmts if " " in f))
    local = parse_local(starts.astype("string").fillna("").str.strip(), fmts).dropna()
    fits = []
    for reading in readings.values():
        lo, hi = reading[0].normalize(), reading[1].normalize() + pd.Timedelta(days=1)
        if len(local) and float(((local >= lo) & (local < hi)).mean()) >= FIT_SHARE:
            fits.append(reading)
    if len(fits) == 1:
        return fits[0], ""
    if len(fits) > 1 and stated is not None and not stated.resaved and order in readings:
        # No spreadsheet touched the file: its preamble is written in the order its rows are.
        return readings[order], ""
    text = f"{stated.start_text} .. {stated.end_text}" if stated else ""
    return None, f"the stated period '{text}' reads both day-first and month-first; the rows' span is used instead"
