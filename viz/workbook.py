"""The Excel workbook investigators expect (``cdrnet report``): one sheet per question they ask.

Summary, Dumps, Operators (per operator and layout), No records (exports with none),
Subscribers (persona per subscriber), Links (edges with evidence counts), IMEI-IMSI periods
(devices and SIMs per subscriber, changes marked), Trends (3-hour table) and Evidence (per
link, every supporting session with its file SHA-256 and line): the sections of ``cdrnet
summary``. With call records also Direct contacts, and per subscriber the Top 10 and Bottom 10
contacts and the Night calls (each with its file and line), as ``cdrnet contacts MSISDN`` shows
them. Every sheet has a frozen header row, a filter and column widths; times are real Excel
dates in the case's zone (the header names it); identifiers (MSISDN, IMSI, IMEI, SHA-256) are
text cells, so Excel never shows ``9.18E+11``; and every text cell is written as text, so a value
such as ``=HYPERLINK(…)`` or ``+91…`` from a hostile dump is shown, never run as a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from cdrnet.analysis.network import summary_line
from cdrnet.analysis.observed import Coverage
from cdrnet.analysis.summary import CaseSummary
from cdrnet.files import atomic_write_bytes

#: Data rows a sheet can hold (Excel's limit is 1,048,576 rows, one of them the header).
MAX_ROWS = 1_048_575
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
DAY_FORMAT = "yyyy-mm-dd"
SHEETS = ("Summary", "Dumps", "Operators", "No records", "Subscribers", "Links", "IMEI-IMSI periods", "Trends",
          "Evidence")


def excel_times(values: pd.Series, tz: str) -> pd.Series:
    """UTC timestamps as naive datetimes in ``tz`` (Excel dates carry no zone: the header says it)."""
    t = pd.to_datetime(values, utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    # The array's to_pydatetime: the Series accessor's warns on pandas 2 (which pyproject.toml allows).
    return pd.Series(t.array.to_pydatetime(), index=values.index, dtype=object).where(t.notna(), None)


class _Sheet:
    """One sheet: typed columns, header, widths, frozen header row and filter."""

    def __init__(self, frame: pd.DataFrame, text: Iterable[str] = (), dates: Iterable[str] = (),
                 days: Iterable[str] = ()) -> None:
        self.frame = frame.reset_index(drop=True)
        self.text, self.dates, self.days = set(text), set(dates), set(days)
        self.truncated = max(len(self.frame) - MAX_ROWS, 0)
        if self.truncated:
            self.frame = self.frame.iloc[:MAX_ROWS]

    def widths(self) -> list[float]:
        out = []
        for c in self.frame.columns:
            col = self.frame[c]
            lengths = col.astype(object).astype(str).str.len() if len(col) else pd.Series([0])
            longest = 19 if c in self.dates else int(lengths.fillna(0).max())
            out.append(float(min(max(longest, len(str(c))) + 2, 60)))
        return out

    def write(self, wb: Workbook, name: str) -> None:
        ws = wb.create_sheet(name)
        for i, w in enumerate(self.widths(), start=1):
            ws.column_dimensions[get_column_letter(i)].width = w  # before any row (write-only sheets)
        ws.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for c in self.frame.columns:
            cell = WriteOnlyCell(ws, str(c))
            cell.data_type, cell.font = "s", bold
            header.append(cell)
        ws.append(header)
        columns = [self._values(c) for c in self.frame.columns]
        for row in zip(*columns, strict=True):
            ws.append([self._cell(ws, v, kind) for v, kind in row])
        if len(self.frame.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(self.frame.columns))}{len(self.frame) + 1}"

    def _values(self, c: str) -> list[tuple[object, str]]:
        """(value, kind) per row of one column, converted once per column (not per cell)."""
        col = self.frame[c]
        if c in self.text:
            vals = col.astype(object).where(col.notna(), None)
            vals = [None if v is None else str(v) for v in vals]
            kind = "s"
        elif c in self.dates or c in self.days:
            vals, kind = list(col), ("d" if c in self.dates else "day")
        elif pd.api.types.is_bool_dtype(col):
            vals, kind = [None if pd.isna(v) else bool(v) for v in col.astype(object)], "n"
        elif pd.api.types.is_numeric_dtype(col):
            f = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
            ints = pd.api.types.is_integer_dtype(col) or bool(np.all(np.isnan(f) | (f == np.round(f))))
            vals = [None if np.isnan(x) else (int(x) if ints else float(x)) for x in f]
            kind = "n"
        else:
            vals = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in col.astype(object)]
            kind = "s"
        return [(v, kind) for v in vals]

    @staticmethod
    def _cell(ws: object, value: object, kind: str) -> object:
        if value is None:
            return None
        if kind == "s":
            cell = WriteOnlyCell(ws, value)
            cell.data_type = "s"  # text, even when it starts with = + - @: never a formula
            return cell
        if kind in ("d", "day"):
            cell = WriteOnlyCell(ws, value)
            cell.number_format = DATE_FORMAT if kind == "d" else DAY_FORMAT
            return cell
        return value


class _MixedSheet(_Sheet):
    """The Summary sheet: one column of values of several types (times, counts, text)."""

    def __init__(self, frame: pd.DataFrame, tz: str) -> None:
        super().__init__(frame, text=["item"])
        self.tz = tz

    def _values(self, c: str) -> list[tuple[object, str]]:
        if c != "value":
            return super()._values(c)
        out: list[tuple[object, str]] = []
        for v in self.frame[c]:
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
                out.append((None, "s"))
            elif isinstance(v, pd.Timestamp):
                out.append((v.tz_convert(self.tz).tz_localize(None).to_pydatetime(), "d"))
            elif isinstance(v, bool | int | float | np.integer | np.floating):
                out.append((v.item() if hasattr(v, "item") else v, "n"))
            else:
                out.append((str(v), "s"))
        return out


def _summary_sheet(s: CaseSummary, notes: list[str]) -> _Sheet:
    tz = s.tz
    p = s.network.params
    rows: list[tuple[str, object]] = [
        ("case", s.case), ("store", s.store), ("zone of every time in this workbook", tz),
        (f"generated ({tz})", s.generated_utc), ("subscribers", len(s.subscribers)), ("dumps", len(s.dumps)),
        ("exports with no records", len(s.empty_exports)), ("sessions", s.sessions),
        (f"first session ({tz})", s.first_utc), (f"last session ({tz})", s.last_utc),
        ("network", s.network.note), ("links", s.links_line()),
        *((("direct contacts", f"{summary_line(s.contacts)} (sheet {CONTACTS_SHEET})"),) if s.contacts is not None
          else ()),
        # An unset parameter (no minimum score, no --since, every application) is said, not an empty cell.
        *((f"parameter: {k}", "not set" if v is None or v == "" else v) for k, v in sorted(p.to_dict().items())),
        *((f"data quality: {m.strip()}", v) for m, v in zip(s.quality["measure"], s.quality["value"], strict=True)),
        *(("note", n) for n in notes)]
    return _MixedSheet(pd.DataFrame(rows, columns=["item", "value"]).astype(object), tz)


def _dumps_sheet(s: CaseSummary) -> _Sheet:
    d, tz = s.dumps, s.tz
    frame = pd.DataFrame({
        "file": d["file"], "sha256": d["sha256"], "layout": d["layout"], "operator": d["operator"],
        "subscribers": d["subscribers"], f"period start ({tz})": excel_times(d["period_start_utc"], tz),
        f"period end ({tz})": excel_times(d["period_end_utc"], tz),
        "period from": d["period_source"].map({"preamble": "stated in the dump", "rows": "rows' span (none stated)"}),
        "lines read": d["lines_read"], "loaded": d["loaded"], "rejected": d["rejected"], "non-data": d["non_data"],
        "rows outside period": d["outside_period"], "application identified %": d["app_identified_pct"],
        "time resolution (s)": d["resolution_s"], "time level": d["time_level"], "zone read in": d["dump_tz"],
        "no records": d["no_records"]})
    return _Sheet(frame, text=["file", "sha256", "layout", "operator", "subscribers", "period from", "time level",
                               "zone read in"], dates=[f"period start ({tz})", f"period end ({tz})"])


def _subscribers_sheet(s: CaseSummary, frame: pd.DataFrame) -> _Sheet:
    """Persona per subscriber, from the profile code (Table III, devices, SIMs, cells)."""
    from cdrnet.analysis.profile import build_profile

    tz = s.tz
    rows = []
    groups = dict(tuple(frame.groupby("msisdn", sort=False))) if len(frame) else {}
    for m in s.subscribers["msisdn"]:
        f = groups.get(m)
        if f is None or f.empty:
            rows.append({"msisdn": m})
            continue
        p = build_profile(f, m, tz, top=3)
        apps = p.apps.head(5)
        rows.append({
            "msisdn": m,
            "top applications (sessions, % of the subscriber's)": "; ".join(
                f"{a} {n:,} ({pct:g} %)" for a, n, pct in zip(apps["application"], apps["frequency"],
                                                              apps["usage_percent"], strict=True)),
            "active days": int(p.apps["active_days"].max()) if len(p.apps) else 0,
            "volume (bytes)": p.apps["volume_bytes"].sum(min_count=1) if len(p.apps) else None,
            "IMEIs": ", ".join(p.devices["imei"]) if len(p.devices) else "",
            "IMSIs": ", ".join(p.sims["imsi"]) if len(p.sims) else "",
            "top cells": ", ".join(p.cells["cell_id"]) if len(p.cells) else ""})
    persona = pd.DataFrame(rows, columns=["msisdn", "top applications (sessions, % of the subscriber's)",
                                          "active days", "volume (bytes)", "IMEIs", "IMSIs", "top cells"])
    sub = s.subscribers
    out = pd.DataFrame({"msisdn": sub["msisdn"], "label": sub["label"], "operators": sub["operators"],
                        "layouts": sub["layouts"], "dumps": sub["dumps"], "sessions": sub["sessions"],
                        f"first seen ({tz})": excel_times(sub["first_utc"], tz),
                        f"last seen ({tz})": excel_times(sub["last_utc"], tz)})
    out = out.merge(persona, on="msisdn", how="left")
    out["volume (bytes)"] = pd.to_numeric(out["volume (bytes)"], errors="coerce").astype("Int64")
    out["active days"] = pd.to_numeric(out["active days"], errors="coerce").astype("Int64")
    return _Sheet(out, text=["msisdn", "label", "operators", "layouts", "top applications (sessions, % of the "
                             "subscriber's)", "IMEIs", "IMSIs", "top cells"],
                  dates=[f"first seen ({tz})", f"last seen ({tz})"])


def _links_sheet(s: CaseSummary, support: dict[tuple[str, str], int]) -> _Sheet:
    tz = s.tz
    e = s.network.edges
    if len(e):
        e = e.sort_values(["link", "score"], ascending=[False, False], kind="stable")
    labels = s.labels
    cols = ["score", "p_value", "q_value", "messaging_obs", "messaging_exp", "messaging_tight", "call_obs", "call_exp",
            "coloc_obs", "coloc_exp", "common_days"]
    out = pd.DataFrame({"a": e["a"], "a label": labels.column(e["a"]), "b": e["b"], "b label": labels.column(e["b"]),
                        "link": e["link"].astype(bool)})
    for c in cols:
        if c in e:
            out[c] = pd.to_numeric(e[c], errors="coerce")
    out["services"] = e["services"].fillna("").astype(str) if "services" in e else ""
    out[f"first ({tz})"] = excel_times(e["first_utc"], tz)
    out[f"last ({tz})"] = excel_times(e["last_utc"], tz)
    out["supporting session pairs (Evidence sheet)"] = [support.get((a, b)) for a, b in zip(e["a"], e["b"],
                                                                                            strict=True)]
    out["supporting session pairs (Evidence sheet)"] = out["supporting session pairs (Evidence sheet)"].astype("Int64")
    text = ["a", "a label", "b", "b label", "services"]
    if s.contacts is not None:
        # Call records in the case: each pair says whether it also called or texted (the Direct contacts sheet).
        lo, hi = e[["a", "b"]].min(axis=1).astype(str), e[["a", "b"]].max(axis=1).astype(str)
        direct = s.contacts[s.contacts["kind"] != "inferred"].set_index(["a", "b"])[["calls", "sms", "seconds"]]
        found = direct.reindex(pd.MultiIndex.from_arrays([lo, hi])) if len(e) else direct.iloc[:0]
        has = found["calls"].notna().to_numpy()
        out.insert(5, "direct contact", ["both" if h and ln else "direct contact, no link" if h else
                                         "inferred link only" if ln else ""
                                         for h, ln in zip(has, out["link"], strict=True)])
        out.insert(6, "calls (call records)", pd.array(found["calls"].to_numpy(), dtype="Int64"))
        out.insert(7, "SMS (call records)", pd.array(found["sms"].to_numpy(), dtype="Int64"))
        text.append("direct contact")
    return _Sheet(out, text=text, dates=[f"first ({tz})", f"last ({tz})"])


#: The sheet a case with call records gets after Links: the one network (Case.contact_network).
CONTACTS_SHEET = "Direct contacts"


def _contacts_sheet(s: CaseSummary) -> _Sheet:
    """Every pair of the one network: inferred links and direct contacts among the case's subscribers,
    ``kind`` saying which and marking the pairs that are both."""
    net = s.contacts if s.contacts is not None else pd.DataFrame(columns=["a", "b", "kind", "score", "q_value",
                                                                          "calls", "sms", "seconds"])
    out = pd.DataFrame({"kind": net["kind"].astype(str), "a": net["a"].astype(str),
                        "a label": s.labels.column(net["a"].astype(str)), "b": net["b"].astype(str),
                        "b label": s.labels.column(net["b"].astype(str)),
                        "link score": pd.to_numeric(net["score"], errors="coerce"),
                        "q_value": pd.to_numeric(net["q_value"], errors="coerce"),
                        "calls": pd.to_numeric(net["calls"]).astype("Int64"),
                        "SMS": pd.to_numeric(net["sms"]).astype("Int64"),
                        "call time (s)": pd.to_numeric(net["seconds"]).astype("Int64")})
    return _Sheet(out, text=["kind", "a", "a label", "b", "b label"])


def _operators_sheet(s: CaseSummary) -> _Sheet:
    """Per operator and layout (the summary's "operators and layouts")."""
    o = s.operators
    out = pd.DataFrame({"operator": o["operator"], "layout": o["layout"], "dumps": o["dumps"],
                        "subscribers": o["subscribers"], "sessions": o["sessions"]})
    return _Sheet(out, text=["operator", "layout"])


def _empty_sheet(s: CaseSummary) -> _Sheet:
    """Exports that hold no records (``No Records Found``): the request was answered, nothing was there."""
    e, tz = s.empty_exports, s.tz
    out = pd.DataFrame({"file": e["file"], "layout": e["layout"], "operator": e["operator"],
                        "subscribers": e["subscribers"],
                        f"period start ({tz})": excel_times(e["period_start_utc"], tz),
                        f"period end ({tz})": excel_times(e["period_end_utc"], tz)})
    return _Sheet(out, text=["file", "layout", "operator", "subscribers"],
                  dates=[f"period start ({tz})", f"period end ({tz})"])


#: The sheets a case with call records gets, as investigators keep them (BRIEF.md) and as
#: ``cdrnet contacts MSISDN`` prints them: per subscriber, the Top 10 and Bottom 10 contacts and
#: the night calls; the devices and SIMs of every subscriber with their periods.
TOP_SHEET, BOTTOM_SHEET, NIGHT_SHEET, EQUIPMENT_SHEET = ("Top 10 contacts", "Bottom 10 contacts", "Night calls",
                                                         "IMEI-IMSI periods")
CONTACT_TEXT = ["subscriber", "subscriber label", "contact", "contact label", "in case"]


def _ranked_contacts(s: CaseSummary, parties: dict[str, pd.DataFrame], bottom: bool) -> _Sheet:
    """Per subscriber with call records, its 10 most (``bottom``: least) frequent contacts, as
    ``cdrnet contacts MSISDN`` lists them: calls and SMS each way, call time, night calls."""
    from cdrnet.analysis.contacts import contacts_of

    tz, inside = s.tz, set(s.subscribers["msisdn"])
    parts = []
    for m in s.subscribers["msisdn"]:
        if m in parties:
            c = contacts_of(parties[m], m, tz)
            t = c.bottom if bottom else c.top
            parts.append(t.assign(subscriber=m, rank=np.arange(1, len(t) + 1)))
    t = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["subscriber", "rank", "contact", "calls_out", "calls_in", "sms_out", "sms_in", "seconds",
                 "night_calls", "first_utc", "last_utc"])
    out = pd.DataFrame({
        "subscriber": t["subscriber"].astype(str), "subscriber label": s.labels.column(t["subscriber"].astype(str)),
        "rank": pd.to_numeric(t["rank"]).astype("Int64"), "contact": t["contact"].astype(str),
        "contact label": s.labels.column(t["contact"].astype(str)),
        "in case": t["contact"].isin(inside).map({True: "yes", False: "no"}).astype(str)})
    for col, name in (("calls_out", "calls out"), ("calls_in", "calls in"), ("sms_out", "SMS out"),
                      ("sms_in", "SMS in"), ("seconds", "call time (s)"), ("night_calls", "night calls")):
        out[name] = pd.to_numeric(t[col]).astype("Int64")
    out[f"first ({tz})"] = excel_times(t["first_utc"], tz)
    out[f"last ({tz})"] = excel_times(t["last_utc"], tz)
    return _Sheet(out, text=CONTACT_TEXT, dates=[f"first ({tz})", f"last ({tz})"])


def _night_sheet(s: CaseSummary, parties: dict[str, pd.DataFrame]) -> _Sheet:
    """Every voice call of a subscriber that started in the night (22:00-06:00 in the case's zone),
    with the dump (SHA-256) and line it was read from."""
    from cdrnet.analysis.contacts import NIGHT_HOURS, night_call_rows

    tz, inside = s.tz, set(s.subscribers["msisdn"])
    parts = []
    for m in s.subscribers["msisdn"]:
        if m in parties:
            f = night_call_rows(parties[m], m, tz)
            if len(f):
                outgoing = (f["caller"] == m).to_numpy()
                parts.append(pd.DataFrame({
                    "subscriber": m, "contact": np.where(outgoing, f["callee"], f["caller"]),
                    "direction": np.where(outgoing, "out", "in"), "start_utc": f["start_utc"].to_numpy(),
                    "duration_s": f["duration_s"].to_numpy(), "cell": f["first_cell"].fillna("").to_numpy(),
                    "sha": f["dump_sha256"].to_numpy(), "line": f["source_line"].to_numpy()}))
    t = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["subscriber", "contact", "direction", "start_utc", "duration_s", "cell", "sha", "line"])
    files = dict(zip(s.dumps["sha256"], s.dumps["file"], strict=True))
    lo, hi = NIGHT_HOURS
    out = pd.DataFrame({
        "subscriber": t["subscriber"].astype(str), "subscriber label": s.labels.column(t["subscriber"].astype(str)),
        "contact": t["contact"].fillna("").astype(str), "contact label": s.labels.column(t["contact"].astype(str)),
        "in case": t["contact"].isin(inside).map({True: "yes", False: "no"}).astype(str),
        "direction": t["direction"].astype(str),
        f"start ({tz}; night {lo:02d}:00-{hi:02d}:00)": excel_times(t["start_utc"], tz),
        "duration (s)": pd.to_numeric(t["duration_s"]).astype("Int64"), "first cell": t["cell"].astype(str),
        "file": t["sha"].map(files).fillna("").astype(str), "sha256": t["sha"].astype(str),
        "line": pd.to_numeric(t["line"]).astype("Int64")})
    return _Sheet(out, text=[*CONTACT_TEXT, "direction", "first cell", "file", "sha256"],
                  dates=[f"start ({tz}; night {lo:02d}:00-{hi:02d}:00)"])


def _equipment_sheet(s: CaseSummary, frame: pd.DataFrame, parties: dict[str, pd.DataFrame]) -> _Sheet:
    """Every subscriber's devices (IMEI) and SIMs (IMSI) with the period each was seen, from IPDR
    sessions and call records together: a handset or SIM change shows as a new row."""
    from cdrnet.analysis.contacts import equipment_periods

    tz = s.tz
    groups = dict(tuple(frame.groupby("msisdn", sort=False))) if len(frame) else {}
    parts = []
    for m in s.subscribers["msisdn"]:
        for kind, col in (("IMEI", "imei"), ("IMSI", "imsi")):
            sessions = groups.get(m)
            e = equipment_periods(sessions if sessions is not None and col in sessions else None, parties.get(m), m,
                                  col, tz)
            if len(e):
                parts.append(pd.DataFrame({"subscriber": m, "kind": kind, "identifier": e[col].astype(str),
                                           "sessions": e["sessions"], "calls": e["calls"],
                                           "first": e["first"], "last": e["last"]}))
    t = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["subscriber", "kind", "identifier", "sessions", "calls", "first", "last"])
    changed = t.groupby(["subscriber", "kind"])["identifier"].transform("size") > 1 if len(t) else t["kind"]
    out = pd.DataFrame({
        "subscriber": t["subscriber"].astype(str), "subscriber label": s.labels.column(t["subscriber"].astype(str)),
        "kind": t["kind"].astype(str), "identifier": t["identifier"].astype(str),
        "changed": pd.Series(changed, index=t.index).map({True: "yes", False: "no"}).astype(str),
        "sessions": pd.to_numeric(t["sessions"]).astype("Int64"), "calls": pd.to_numeric(t["calls"]).astype("Int64"),
        # equipment_periods gives the minute in the zone; an Excel date of it (no zone: the header says it)
        f"first seen ({tz})": pd.Series(pd.to_datetime(t["first"]).array.to_pydatetime(), index=t.index, dtype=object),
        f"last seen ({tz})": pd.Series(pd.to_datetime(t["last"]).array.to_pydatetime(), index=t.index, dtype=object)})
    return _Sheet(out, text=["subscriber", "subscriber label", "kind", "identifier", "changed"],
                  dates=[f"first seen ({tz})", f"last seen ({tz})"])


def _trends_sheet(s: CaseSummary, frame: pd.DataFrame, app: str) -> _Sheet:
    from cdrnet.analysis.trends import app_sessions, three_hour_table

    chosen = app_sessions(frame, app) if len(frame) else frame
    table = three_hour_table(chosen, s.tz) if len(chosen) else pd.DataFrame(columns=["number", "date"])
    table.insert(1, "label", s.labels.column(table["number"].astype(str)) if len(table) else pd.Series(dtype=str))
    table.insert(2, "application", app)
    table = table.rename(columns={"date": f"date ({s.tz})"})
    table[f"date ({s.tz})"] = pd.Series([pd.Timestamp(d).to_pydatetime() for d in table[f"date ({s.tz})"]],
                                        index=table.index, dtype=object)
    return _Sheet(table, text=["number", "label", "application"], days=[f"date ({s.tz})"])


def _evidence_sheet(s: CaseSummary, frame: pd.DataFrame, coverage: Coverage) -> tuple[_Sheet, dict]:
    """Every supporting session pair of every link, each side with its file, SHA-256 and line."""
    from cdrnet.analysis.evidence import EVENT_COLUMNS, build_evidence

    tz = s.tz
    files = dict(zip(s.dumps["sha256"], s.dumps["file"], strict=True))
    groups = dict(tuple(frame.groupby("msisdn", sort=False))) if len(frame) else {}
    parts, support = [], {}
    for a, b in zip(s.links["a"], s.links["b"], strict=True):
        if a not in groups or b not in groups:
            continue
        ev = build_evidence(pd.concat([groups[a], groups[b]], ignore_index=True), a, b, s.network.params, files,
                            coverage=coverage)
        support[(a, b)] = support[(b, a)] = len(ev.events)
        parts.append(ev.events)
    events = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EVENT_COLUMNS)
    out = pd.DataFrame({"a": events["a"], "b": events["b"], "evidence": events["evidence"], "key": events["key"],
                        f"a start ({tz})": excel_times(events["a_start_utc"], tz), "a file": events["a_file"],
                        "a sha256": events["a_sha256"], "a line": events["a_line"],
                        f"b start ({tz})": excel_times(events["b_start_utc"], tz), "b file": events["b_file"],
                        "b sha256": events["b_sha256"], "b line": events["b_line"], "delta (s)": events["delta_s"],
                        "a session key": events["a_session_key"], "b session key": events["b_session_key"]})
    for c in ("a line", "b line", "delta (s)"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    return _Sheet(out, text=["a", "b", "evidence", "key", "a file", "a sha256", "b file", "b sha256", "a session key",
                             "b session key"], dates=[f"a start ({tz})", f"b start ({tz})"]), support


def write_workbook(s: CaseSummary, frame: pd.DataFrame, coverage: Coverage, path: Path, app: str = "WhatsApp",
                   calls: pd.DataFrame | None = None) -> Path:
    """Write the workbook (atomically); ``frame`` is the case's sessions, ``coverage`` its periods,
    ``calls`` its call events (CALL_SCHEMA; None or empty: a case without call records)."""
    import io

    from cdrnet.analysis.contacts import events_by_party

    evidence, support = _evidence_sheet(s, frame, coverage)
    parties = events_by_party(calls, list(s.subscribers["msisdn"])) if calls is not None and len(calls) else {}
    call_sheets = ({TOP_SHEET: _ranked_contacts(s, parties, bottom=False),
                    BOTTOM_SHEET: _ranked_contacts(s, parties, bottom=True), NIGHT_SHEET: _night_sheet(s, parties)}
                   if calls is not None and len(calls) else {})
    sheets = {"Dumps": _dumps_sheet(s), "Operators": _operators_sheet(s), "No records": _empty_sheet(s),
              "Subscribers": _subscribers_sheet(s, frame), "Links": _links_sheet(s, support),
              **({CONTACTS_SHEET: _contacts_sheet(s)} if s.contacts is not None else {}),
              **call_sheets, EQUIPMENT_SHEET: _equipment_sheet(s, frame, parties),
              "Trends": _trends_sheet(s, frame, app), "Evidence": evidence}
    notes = [f"sheet {name}: the first {MAX_ROWS:,} rows of {MAX_ROWS + sh.truncated:,} (Excel's limit)"
             for name, sh in sheets.items() if sh.truncated]
    if sheets["Trends"].frame.empty:
        notes.append(f"sheet Trends: no sessions of an application matching '{app}' (see 'cdrnet trends --app')")
    wb = Workbook(write_only=True)
    _summary_sheet(s, notes).write(wb, "Summary")
    for name, sheet in sheets.items():
        sheet.write(wb, name)
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    return path
