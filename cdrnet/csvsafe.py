"""Every CSV cdrnet writes, made safe to open in Excel or LibreOffice (one place for all writers).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as
a formula by a spreadsheet ("CSV injection"): an application name, a cell name or a raw
rejected line from a hostile dump could then call out or run commands on the analyst's
machine. Following OWASP, such a cell gets a leading single quote (``'=cmd|…`` is shown as
text) and every text field is quoted. Cells that are plain numbers (``-5``, ``-0.25``,
``+919812345678``) are numbers, not formulas, and are left alone, so a negative number
column stays numeric; numeric columns are never touched. Identifiers are stored as
normalised digits, so they never need the quote.

Reading a file back with pandas gives the escaped text (``'=…``); the quote is the only change.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_START = r"^[=+\-@\t\r]"
#: A plain number (optionally signed, decimal, exponent): a spreadsheet reads it as a number.
PLAIN_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def escape_cell_text(values: pd.Series) -> pd.Series:
    """A text column with every formula-like cell prefixed by a single quote."""
    s = values.astype("string")
    risky = (s.str.contains(FORMULA_START, regex=True) & ~s.str.fullmatch(PLAIN_NUMBER)).fillna(False).astype(bool)
    if not risky.any():
        return values
    out = s.copy()
    out[risky] = "'" + s[risky]
    return out


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text columns are escaped (numeric, boolean and time columns unchanged)."""
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        if (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
                or pd.api.types.is_datetime64_any_dtype(col.dtype)):
            continue
        out[c] = escape_cell_text(col)
    return out


def csv_text(frame: pd.DataFrame, header: bool = True) -> str:
    """The frame as spreadsheet-safe CSV text (text fields quoted, numbers bare)."""
    buf = io.StringIO()
    write_csv(frame, buf, header=header)
    return buf.getvalue()


def write_csv(frame: pd.DataFrame, target: str | Path | io.TextIOBase, header: bool = True) -> None:
    """Write ``frame`` as spreadsheet-safe CSV to a path or an open text file (no index)."""
    safe = spreadsheet_safe(frame)
    safe.to_csv(target, index=False, header=header, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")


def header_line(columns: list[str]) -> str:
    """The header row exactly as :func:`write_csv` writes it (for files built by concatenation)."""
    return csv_text(pd.DataFrame(columns=columns))
