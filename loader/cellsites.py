"""Cell-site lists: an operator's CGI chart and OpenCelliD / Mozilla Location Service exports.

Both say where cells stand, not what a subscriber did, so they are a data type of their own:
detected by their header (wherever it sits), read whole with the same row accounting as a dump
(every line loaded, rejected with a reason, or skipped as non-data) and kept as a table of
positions keyed by the canonical cell key (:mod:`cdrnet.loader.cells`).

- **CGI chart** (the operator's cell-site list): ``CGI (Code in Order of CMCC/MNC/LAC/CI),Service
  provider,Zone/ Circle,Town,Site Name,Site Address,Land Mark,Latitude,Longitude,Azimuth angle,
  Status (In-service/De-commissioned),Status Change Date``, comma- or ``^``-separated. Charts that
  give the parts in columns of their own (MCC, MNC, LAC/TAC, CI, or MCC, MNC, eNB id and sector)
  are read too.
- **OpenCelliD** ``radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,
  averageSignal`` (the per-country downloads have no header line; the last Mozilla Location
  Service export has the same columns). LTE rows are keyed by TAC and ECI there; here an LTE or
  5G row (``radio``, or a CI above 65535) is keyed by MCC, MNC and ECI alone, as a Jio cell id
  (no TAC) is (see ``fold_tac``).

Nothing is looked up online: only what the analyst imports is read.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from cdrnet.errors import UnknownLayoutError
from cdrnet.loader.cells import LTE_RADIOS, canonical_cell, coordinates, fold_tac
from cdrnet.loader.detect import header_candidates
from cdrnet.loader.layouts import normalise_header
from cdrnet.loader.sources import DumpSource
from cdrnet.loader.textblocks import iter_blocks, sheets_to_csv_streams

DELIMITERS = (",", "^", ";", "|", "\t")
SCAN_LINES = 200
RADIOS = ("gsm", "umts", "lte", "nr", "cdma")
OPENCELLID_COLUMNS = ("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
                      "changeable", "created", "updated", "averagesignal")
#: Columns of the stored table, in order.
SITE_COLUMNS = ["cell_id", "cell_raw", "lat", "lon", "radio", "site_name", "address", "azimuth", "status",
                "range_m", "source", "list_sha256", "source_line"]
#: Where a position comes from, best first (the operator's own columns in a dump win over both).
SOURCES = {"cgi_chart": "chart", "opencellid": "opencellid"}
#: A chart column by what it holds (normalised header, as loader.layouts.normalise_header gives).
CHART_COLUMNS: dict[str, str] = {
    "cgi": r"^(cgi|cell global id|complete cell id|cell id \(cgi\))",
    "lat": r"^lat(itude)?\b",
    "lon": r"^lon(g|gitude)?\b",
    "mcc": r"^c?mcc$",
    "mnc": r"^mnc$",
    "lac": r"^(lac|tac)$",
    "ci": r"^(ci|cell id|cellid|sector id|sector)$",
    "enb": r"^(enb|enodeb|enodeb id|enb id)$",
    "site_name": r"^site name",
    "address": r"^(site )?address",
    "azimuth": r"^azimuth",
    "status": r"^status\b(?!.*date)",
    "radio": r"^(rat|technology|radio)$",
}
#: Columns that only a subscriber's dump has: a list naming one is not a cell-site list.
DUMP_ONLY = re.compile(r"msisdn|imsi|imei|party|mobile|calling|called|session|destination")


@dataclass
class SiteDetection:
    """A cell-site list's kind, header line (0: none), delimiter and column positions."""

    kind: str
    header_line: int
    delimiter: str
    columns: dict[str, int]
    width: int


@dataclass
class CellListReport:
    """What one imported list held and what happened to each of its lines."""

    name: str
    sha256: str
    kind: str = ""
    part: str = ""
    lines_read: int = 0
    loaded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    nondata: int = 0
    cells: int = 0
    imported_at: str = ""

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def accounted(self) -> bool:
        return self.lines_read == self.loaded + self.rejected_total + self.nondata

    @property
    def source(self) -> str:
        return SOURCES.get(self.kind, self.kind)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CellListReport:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def summary(self) -> str:
        rej = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected.items()))
        return (f"{self.name}: {self.kind.replace('_', ' ')}: {self.lines_read:,} lines = {self.loaded:,} loaded"
                f" + {self.rejected_total:,} rejected{f' ({rej})' if rej else ''} + {self.nondata:,} non-data;"
                f" {self.cells:,} distinct cell(s)")


@dataclass
class CellList:
    """A parsed list: positions, rejected lines (line, reason, text) and the report."""

    report: CellListReport
    sites: pd.DataFrame
    rejects: pd.DataFrame


def _chart_columns(cells: list[str]) -> dict[str, int] | None:
    normal = [normalise_header(c) for c in cells]
    if any(DUMP_ONLY.search(n) for n in normal):
        return None
    found: dict[str, int] = {}
    for name, pattern in CHART_COLUMNS.items():
        hit = next((i for i, n in enumerate(normal) if re.search(pattern, n)), None)
        if hit is not None and hit not in found.values():
            found[name] = hit
    has_id = "cgi" in found or {"mcc", "mnc", "ci"} <= set(found) or {"mcc", "mnc", "enb", "ci"} <= set(found)
    return found if has_id and {"lat", "lon"} <= set(found) else None


def detect_sites(lines: list[str]) -> SiteDetection | None:
    """The list's kind and header, or None when the lines are no cell-site list.

    Only lines that name a latitude and a longitude or start with a radio type are split: every
    file of a delivery is sniffed, so a dump's rows must cost next to nothing here.
    """
    def may_be_header(line: str) -> bool:
        low = line[:4096].lower()
        return ("lat" in low and "lon" in low) or low.lstrip().startswith(RADIOS)

    for i, delim, cells in header_candidates([ln if may_be_header(ln) else "" for ln in lines[:SCAN_LINES]],
                                             DELIMITERS):
        normal = [normalise_header(c) for c in cells]
        if {"radio", "mcc", "net", "area", "cell", "lon", "lat"} <= set(normal):
            return SiteDetection("opencellid", i + 1, delim, {c: normal.index(c) for c in normal if c}, len(cells))
        if (len(cells) >= len(OPENCELLID_COLUMNS) - 1 and normal[0] in RADIOS
                and all(c.strip().lstrip("-").isdigit() for c in cells[1:5])):
            # A per-country OpenCelliD download: no header, the documented column order.
            return SiteDetection("opencellid", 0, delim, {c: k for k, c in enumerate(OPENCELLID_COLUMNS)},
                                 len(cells))
        if len(cells) >= 3:
            found = _chart_columns(cells)
            if found is not None:
                return SiteDetection("cgi_chart", i + 1, delim, found, len(cells))
    return None


def _text_parts(source: DumpSource) -> list[tuple[str, bytes]]:
    """The source as UTF-8 text: the file itself, or each sheet of a workbook."""
    with source.opener() as fh:
        if source.kind == "text":
            return [("", b"".join(b.data if b.data.endswith(b"\n") else b.data + b"\n" for b in iter_blocks(fh)))]
        return list(sheets_to_csv_streams(source.kind, fh))


def sniff_cell_list(source: DumpSource) -> bool:
    """Whether a source is a cell-site list (cheap: the first lines only)."""
    if source.kind != "text":
        return False
    with source.opener() as fh:
        head = fh.read(16 * 1024)  # a header sits in the first lines; every file is sniffed
    text = head.decode("utf-8-sig", errors="replace")
    return detect_sites(text.splitlines()[:SCAN_LINES]) is not None


def _read_rows(body: bytes, det: SiteDetection) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """Rows after the header as strings, each row's physical line, and lines of the wrong width."""
    bad: list[tuple[int, str]] = []

    def on_bad(row: pacsv.InvalidRow) -> str:
        bad.append((int(row.number or 0), row.text or ""))
        return "skip"

    names = [f"c{k}" for k in range(det.width)]
    table = pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=det.header_line, use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=det.delimiter, invalid_row_handler=on_bad,
                                         ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    total = body.count(b"\n")
    bad_lines = {n for n, _ in bad}
    all_lines = np.arange(det.header_line + 1, total + 1, dtype=np.int64)
    lines = all_lines[~np.isin(all_lines, list(bad_lines))] if bad_lines else all_lines
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    return frame, lines[: len(frame)], bad


def _col(frame: pd.DataFrame, det: SiteDetection, name: str) -> pd.Series:
    pos = det.columns.get(name)
    if pos is None or pos >= frame.shape[1]:
        return pd.Series("", index=frame.index, dtype="string")
    return frame.iloc[:, pos].fillna("").str.strip().str.strip('"\'=').str.strip()


def _keys(frame: pd.DataFrame, det: SiteDetection) -> tuple[pd.Series, pd.Series]:
    """Canonical keys (NA when a row's id is not a structured cell id) and the raw id text."""
    if det.kind == "opencellid":
        mcc, net, area, cell = (pd.to_numeric(_col(frame, det, c), errors="coerce") for c in ("mcc", "net", "area",
                                                                                            "cell"))
        # Whole numbers below 2**53 only: "inf", "1e400" and "1e30" passed ``ge(0)`` and the int64 cast made
        # them -9223372036854775808 (a key ``404-70--9223372036854775808-1``, shared by every such row),
        # and "7.5" became 7: keys no operator writes, so such rows are invalid ids like any other.
        ok = mcc.between(100, 999) & net.between(0, 999) & area.between(0, 2.0**53) & cell.between(0, 2.0**53)
        for x in (mcc, net, area, cell):
            ok &= (x % 1 == 0).fillna(False)
        mcc, net, area, cell = (x.where(ok, 0) for x in (mcc, net, area, cell))
        mnc = net.fillna(0).astype("int64").astype(str).str.zfill(2)
        raw = (_col(frame, det, "mcc") + "-" + _col(frame, det, "net") + "-" + _col(frame, det, "area") + "-"
               + _col(frame, det, "cell"))
        key = (mcc.fillna(0).astype("int64").astype(str).str.zfill(3) + "-" + mnc + "-"
               + area.fillna(0).astype("int64").astype(str) + "-" + cell.fillna(0).astype("int64").astype(str))
        return key.where(ok).astype("string"), raw.astype("string")
    if "cgi" in det.columns:
        raw = _col(frame, det, "cgi")
        codes, uniques = pd.factorize(raw, use_na_sentinel=False)
        canon = pd.Series([canonical_cell(str(u)) for u in uniques], dtype="string")
        key = pd.Series(canon.to_numpy()[codes], index=frame.index, dtype="string")
        return key.where(key.str.match(r"^\d{3}-\d{2,3}-\d+(-\d+)?$")), raw
    mcc, mnc, ci = (_col(frame, det, c) for c in ("mcc", "mnc", "ci"))
    digits = mcc.str.fullmatch(r"\d{3}") & mnc.str.fullmatch(r"\d{2,3}") & ci.str.fullmatch(r"\d+")
    if "enb" in det.columns:  # eNB id and sector: the LTE cell identity is eNB x 256 + sector
        enb = _col(frame, det, "enb")
        # The eNB id has 20 bits (up to 32 in some charts) and the sector 8: a sector of 256 or more
        # would fall on the next eNB's cells, and an id of 20+ digits overflowed the int64 cast into
        # one shared bogus key. Such rows are invalid cell ids.
        digits &= enb.str.fullmatch(r"\d{1,10}")
        enb_n = pd.to_numeric(enb.where(digits), errors="coerce")
        ci_n = pd.to_numeric(ci.where(digits & ci.str.fullmatch(r"\d{1,3}")), errors="coerce")
        digits &= enb_n.lt(2**32).fillna(False) & ci_n.lt(256).fillna(False)
        eci = (enb_n * 256 + ci_n).where(digits, 0)
        key = mcc + "-" + mnc + "-" + eci.fillna(0).astype("int64").astype(str)
        raw = mcc + "-" + mnc + "-" + enb + "/" + ci
    else:
        lac = _col(frame, det, "lac")
        with_lac = lac.str.fullmatch(r"\d+")
        def number(s: pd.Series) -> pd.Series:
            return s.str.lstrip("0").replace("", "0")

        key = mcc + "-" + mnc + "-" + (number(lac) + "-").where(with_lac, "") + number(ci)
        raw = mcc + "-" + mnc + "-" + lac + "-" + ci
    return key.where(digits).astype("string"), raw.astype("string")


def parse_cell_list(source: DumpSource, sha: str | None = None) -> CellList:
    """Read a CGI chart or an OpenCelliD/MLS export with every line accounted for.

    Raises UnknownLayoutError when no part of the source is a cell-site list.
    """
    from cdrnet.loader.parse import is_nondata_text

    sha = sha or source.sha256()
    for part, body in _text_parts(source):
        head = body[: 256 * 1024].decode("utf-8", errors="replace").splitlines()
        det = detect_sites(head)
        if det is None:
            continue
        frame, lines, bad = _read_rows(body, det)
        total = body.count(b"\n")
        blank = frame.apply(lambda c: c.fillna("").str.strip() == "").all(axis=1).to_numpy()
        bad_nondata = [is_nondata_text(t) for _, t in bad]
        radio = _col(frame, det, "radio").str.upper()
        key, raw = _keys(frame, det)
        # An LTE/5G row's TAC is no part of its cell's key (loader/cells.py): OpenCelliD keys LTE
        # rows by TAC and ECI, while Jio's CDRs and IPDRs carry no TAC.
        key = fold_tac(key, radio.isin(LTE_RADIOS))
        lat, lon = coordinates(_col(frame, det, "lat"), _col(frame, det, "lon"))
        reason = pd.Series(pd.NA, index=frame.index, dtype="string")
        reason[key.isna()] = "invalid_cell_id"
        reason[reason.isna() & (lat.isna() | lon.isna())] = "invalid_position"
        reason[blank] = pd.NA
        keep = reason.isna().to_numpy() & ~blank
        sites = pd.DataFrame({
            "cell_id": key, "cell_raw": raw, "lat": lat, "lon": lon, "radio": radio,
            "site_name": _col(frame, det, "site_name"), "address": _col(frame, det, "address"),
            "azimuth": _col(frame, det, "azimuth"), "status": _col(frame, det, "status"),
            "range_m": pd.to_numeric(_col(frame, det, "range"), errors="coerce"),
            "source": SOURCES[det.kind], "list_sha256": sha, "source_line": lines,
        })[keep].reset_index(drop=True)
        rej_rows = ~keep & ~blank
        texts = (frame[rej_rows].fillna("").agg(det.delimiter.join, axis=1) if rej_rows.any()
                 else pd.Series([], dtype=str))
        rejects = pd.concat([
            pd.DataFrame({"line": lines[rej_rows].astype(np.int64), "reason": reason[rej_rows].astype(str).to_numpy(),
                          "raw": texts.to_numpy(dtype=object)}),
            pd.DataFrame({"line": [n for (n, _), nd in zip(bad, bad_nondata, strict=True) if not nd],
                          "reason": "wrong_field_count",
                          "raw": [t for (_, t), nd in zip(bad, bad_nondata, strict=True) if not nd]}),
        ], ignore_index=True).astype({"line": "int64"}).sort_values("line", kind="stable").reset_index(drop=True)
        rejected = rejects["reason"].value_counts().to_dict()
        report = CellListReport(
            name=source.name, sha256=sha, kind=det.kind, part=part, lines_read=total, loaded=int(keep.sum()),
            rejected={str(k): int(v) for k, v in rejected.items()},
            nondata=total - int(keep.sum()) - len(rejects), cells=int(sites["cell_id"].nunique()),
            imported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        return CellList(report, sites, rejects)
    raise UnknownLayoutError(
        f"{source.name}: not a cell-site list (no CGI chart or OpenCelliD header in the first {SCAN_LINES} lines)",
        hint="a CGI chart needs a CGI (or MCC/MNC/LAC/CI) column and Latitude/Longitude; an OpenCelliD file has "
             "radio,mcc,net,area,cell,unit,lon,lat,…")
