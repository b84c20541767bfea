"""Names beside numbers: the analyst's ``msisdn,label`` file (names or aliases from the case file).

Numbers are normalised as everywhere else (``+91 98…``, ``0…``, 10 digits are one
subscriber), so a label file typed by hand matches the case. A line that is not a
number, or a number the case does not hold, is reported, never fatal: the labels are a
reading aid, and the case is the same with or without them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cdrnet.errors import UsageError


@dataclass
class Labels:
    """Label per stored MSISDN, and what could not be used."""

    names: dict[str, str] = field(default_factory=dict)
    #: (line, text, reason) of each line that gave no label.
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)
    source: str = ""

    def of(self, msisdn: str) -> str:
        """The label of a number, or ""."""
        return self.names.get(msisdn, "")

    def show(self, msisdn: str) -> str:
        """``919812345678 (Ravi)``, or the number alone when it has no label."""
        label = self.names.get(msisdn, "")
        return f"{msisdn} ({label})" if label else msisdn

    def column(self, numbers: pd.Series) -> pd.Series:
        """The labels of a column of numbers ("" where none), vectorised."""
        mapped = numbers.astype(object).map(self.names).astype(object)
        return mapped.where(mapped.notna(), "").astype(str)

    def unknown(self, known: Iterable[str]) -> list[str]:
        """Numbers with a label that the case does not hold."""
        return sorted(set(self.names) - set(known))

    def problems(self, known: Iterable[str]) -> list[str]:
        """One line per thing an analyst should fix in the label file (empty when all is well)."""
        out = [f"labels: {self.source} line {line}: {reason} ({text!r}), ignored"
               for line, text, reason in self.unreadable]
        missing = self.unknown(known)
        if missing:
            out.append(f"labels: {len(missing)} number(s) in {self.source} are not in the case: {', '.join(missing)}")
        return out


NO_LABELS = Labels()


def read_labels(path: str | Path, country_code: str = "91") -> Labels:
    """Read a ``msisdn,label`` CSV (header optional; a label may be quoted and hold commas).

    Raises UsageError only when the file cannot be read at all.
    """
    from cdrnet.loader.identifiers import clean_text, normalise_msisdn

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the label file {p}: {exc}",
                         "give a UTF-8 CSV with lines 'msisdn,label'") from exc
    rows = [(i, r) for i, r in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in r)]
    if rows and rows[0][1][0].strip().lower() in ("msisdn", "number", "phone", "mobile"):
        rows = rows[1:]
    labels = Labels(source=str(p))
    if not rows:
        return labels
    numbers = pd.Series([r[0] for _, r in rows], dtype="string")
    norm, reason = normalise_msisdn(clean_text(numbers), country_code)
    for (line, r), n, why in zip(rows, norm, reason, strict=True):
        label = ",".join(r[1:]).strip()
        if pd.notna(why):
            labels.unreadable.append((line, ",".join(r), f"not a phone number ({why})"))
        elif not label:
            labels.unreadable.append((line, ",".join(r), "no label"))
        elif n in labels.names and labels.names[n] != label:
            labels.names[n] = f"{labels.names[n]} / {label}"
        else:
            labels.names[n] = label
    return labels
