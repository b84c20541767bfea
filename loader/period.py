"""The period a dump was requested for, as its preamble states it.

Every dump answers a request for one subscriber over one period (Airtel
``CDR OF MSISDN : … from 02-Mar-2026 00:00:00 to 03-Mar-2026 23:59:59``, Vi
``From Date:-`` / ``Till Date:-``). The period, not the first and last row, is
the time the subscriber was observed: a quiet day inside it is evidence of no
activity, a day outside it is no evidence at all. The link engine needs it to
score a pair only on the days both subscribers were observed.

The preamble is a handful of lines, so plain Python is fine here; the rows are
never parsed in this module.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

#: Airtel IPDR/CDR and tower dumps: ``… from A to B`` (dates optionally quoted).
_DATE = r"\d[\w\-/.: ]*?\d"
FROM_TO = re.compile(rf"\bfrom\s*[:\-]*\s*'?(?P<a>{_DATE})'?\s+(?:to|till|upto)\s*[:\-]*\s*'?(?P<b>{_DATE})'?\s*$",
                     re.IGNORECASE)
#: Jio CDR: ``Date Range :,02/03/2026 - 31/03/2026``.
DATE_RANGE = re.compile(rf"\bdate\s*range\s*[:\-]*[\s,;|]*'?(?P<a>{_DATE})'?\s+(?:-|to)\s+'?(?P<b>{_DATE})'?\s*$",
                        re.IGNORECASE)
#: Vi: ``From Date:- 2026-03-02``, ``From Time:- 00:00:00``, ``Till Date:-``, ``Till Time:-`` (or ``To …``).
KEY_VALUE = re.compile(r"^(?P<side>from|till|to)\s*(?P<what>date|time)\s*[:\-]+[\s,;|]*(?P<v>[^,;|]*)", re.IGNORECASE)

_TEXT_MONTH = ["%d-%b-%Y", "%d %b %Y", "%d/%b/%Y", "%d-%B-%Y", "%d %B %Y", "%d-%b-%y"]
_YEAR_FIRST = ["%Y-%m-%d", "%Y/%m/%d"]
_TIMES = [" %H:%M:%S", " %H:%M", ""]


@dataclass(frozen=True)
class StatedPeriod:
    """The period's texts as the preamble wrote them (their date order may still be open)."""

    start_text: str
    end_text: str
    line: str
    #: The preamble's lines carry a spreadsheet's padding (``BHARTI AIRTEL LTD,,,,,``): the file was
    #: re-saved through Excel, whose locale may have rewritten the rows' dates (not this text).
    resaved: bool = False

    def readings(self) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
        """Local (naive) start and inclusive end under each day/month order that reads validly.

        Text-month and year-first dates give the same reading under both orders;
        ``02/03/2026`` gives two, ``31/03/2026`` one. A date without a time
        covers its whole day, so the end becomes 23:59:59 of that day.
        """
        out = {}
        for order in ("dmy", "mdy"):
            start = parse_period_text(self.start_text, order, end=False)
            end = parse_period_text(self.end_text, order, end=True)
            if start is not None and end is not None and start <= end:
                out[order] = (start, end)
        return out


def _numeric_formats(order: str) -> list[str]:
    out = []
    for sep in "-/.":
        day_month = f"%d{sep}%m" if order == "dmy" else f"%m{sep}%d"
        out += [f"{day_month}{sep}%Y", f"{day_month}{sep}%y"]
    return out


def parse_period_text(text: str, order: str, end: bool) -> pd.Timestamp | None:
    """One stated date (optionally with time) read under ``order``; None if it does not read."""
    text = re.sub(r"\s+", " ", text.strip().strip("'\""))
    for dates in (_TEXT_MONTH, _YEAR_FIRST, _numeric_formats(order)):
        for date_fmt in dates:
            for time_fmt in _TIMES:
                try:
                    value = dt.datetime.strptime(text, date_fmt + time_fmt)
                except ValueError:
                    continue
                ts = pd.Timestamp(value)
                if end and not time_fmt:
                    ts = ts + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
                return ts
    return None


#: A preamble line ending in a run of empty fields, as a spreadsheet pads every row to the table's
#: width when it saves a CSV (operators' own preambles end in text: ``Date Range :,… - …``).
PADDED = re.compile(r"[,;|\t]{2,}\s*$")


def _clean(line: str) -> str:
    """A preamble line without CSV quoting and Excel's comma padding."""
    return line.replace('"', "").strip().rstrip(",;|\t ").strip()


def stated_period(lines: list[str]) -> StatedPeriod | None:
    """Find the requested period among the preamble lines (those before the header), if stated."""
    parts: dict[str, str] = {}
    resaved = any(PADDED.search(raw) for raw in lines)
    for raw in lines:
        line = _clean(raw)
        if not line:
            continue
        for pattern in (FROM_TO, DATE_RANGE):
            m = pattern.search(line)
            if m:
                return StatedPeriod(m["a"], m["b"], line, resaved)
        kv = KEY_VALUE.match(line)
        if kv and kv["v"].strip():
            side = "from" if kv["side"].lower() == "from" else "till"
            parts[f"{side}_{kv['what'].lower()}"] = kv["v"].strip()
    if "from_date" in parts and "till_date" in parts:
        start = f"{parts['from_date']} {parts.get('from_time', '')}".strip()
        end = f"{parts['till_date']} {parts.get('till_time', '')}".strip()
        line = "; ".join(f"{k} {v}" for k, v in parts.items())
        return StatedPeriod(start, end, line, resaved)
    return None


def to_utc(local: pd.Timestamp, tz: str) -> pd.Timestamp:
    """A naive local time in the dump's zone as UTC, by the rows' rule (``timeparse.to_utc``: a time in
    the spring gap moves forward, one in the autumn overlap is its first occurrence)."""
    from cdrnet.loader.timeparse import to_utc as rows_to_utc

    return rows_to_utc(pd.Series([local], dtype="datetime64[s]"), tz).iloc[0]
