"""Render call events into each operator's voice/SMS CDR and tower-dump layout.

Used by the simulator and the tests, so fixtures carry the preambles, headers,
call type codes, cell id forms and footers of BRIEF.md ("Facts about voice/SMS
CDRs, tower dumps and cell sites"). Input columns (one row per event, from the
row's own subscriber's point of view): msisdn and b_party (12 digits with
country code, or any text for b_party), direction (``out``/``in``), type
(``voice``/``sms``), start (naive local datetime), duration (seconds), cell
(hyphenated MCC-MNC-LAC-CI), optional last_cell, lat, lon, imei, imsi.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from cdrnet.synth.writers import jio_hex_cell

AIRTEL_CDR_HEADER = ["Target No", "Call Type", "TOC", "B Party No", "LRN No", "LRN TSP-LSA", "Date", "Time", "Dur(s)",
                     "First CGI Lat/Long", "First CGI", "Last CGI Lat/Long", "Last CGI", "SMSC No", "Service Type",
                     "IMEI", "IMSI", "Call Fow No", "Roam Nw", "SW & MSC ID", "IN TG", "OUT TG",
                     "Vowifi First UE IP", "Port1", "Vowifi Last UE IP", "Port2"]
JIO_CDR_HEADER = ["Calling Party Telephone Number", "Called Party Telephone Number", "Call Forwarding",
                  "LRN Called No", "Call Date", "Call Time", "Call Termination Time", "Call Duration", "First Cell ID",
                  "Last Cell ID", "Call Type", "SMS Center Number", "IMEI", "IMSI", "Roaming Circle Name"]
VI_CDR_HEADER = ["Target /A PARTY NUMBER", "CALL_TYPE", "Type of Connection", "B PARTY NUMBER", "LRN- B Party Number",
                 "Translation of LRN", "Call date", "Call Initiation Time", "Call Duration", "First BTS Location",
                 "First Cell Global Id", "Last BTS Location", "Last Cell Global Id", "SMS Centre Number",
                 "Service Type", "IMEI", "IMSI", "Call Forwarding Number", "Roaming Network/Circle", "MSC ID",
                 "In TG ", "Out TG ", "IP Address ", "Port No"]
BSNL_CDR_HEADER = ["Target/A-Party Number", "Call Type", "Type of Connection", "Other/B-party Number",
                   "LRN of B-Party Number", "Translation of LRN", "Call Date", "Call Initiation Time", "Call Duration",
                   "First BTS Location", "First Cell Global ID", "Last BTS Location", "Last Cell Global ID",
                   "SMS Centre No.", "Service Type", "IMEI", "IMSI", "Original Calling Party",
                   "Roaming Network/Circle", "Switch/MSC ID", "In TG", "Out TG"]
#: The DoT uniform wording: the brief names the columns from the duration on; the party and date
#: columns before them are the usual names (the dot_cdr layout accepts a few wordings).
DOT_CDR_HEADER = ["Target Number", "B Party Number", "Call Date", "Call Time", "Call duration (in seconds)",
                  "Complete First Cell ID", "Complete Last Cell ID", "Call Type (IN/OUT/SMS_IN/SMS_OUT)",
                  "IMEI of Party", "IMSI of Party", "Type of Connection (Pre-paid/Post-paid)",
                  "First Roaming Network Circle ID"]

#: Call type codes per layout: (direction, type) -> code. Vi and BSNL codes are not in the brief;
#: the 3GPP names their switches print are used (MOC/MTC, SMSMO/SMSMT).
CODES = {
    "airtel_cdr": {("out", "voice"): "OUT", ("in", "voice"): "IN", ("out", "sms"): "SMO", ("in", "sms"): "SMT"},
    "jio_cdr": {("out", "voice"): "a_out", ("in", "voice"): "a_in", ("out", "sms"): "P2P_SMSOUT",
                ("in", "sms"): "P2P_SMSIN"},
    "vi_cdr": {("out", "voice"): "MOC", ("in", "voice"): "MTC", ("out", "sms"): "SMSMO", ("in", "sms"): "SMSMT"},
    "bsnl_cdr": {("out", "voice"): "MOC", ("in", "voice"): "MTC", ("out", "sms"): "SMSMO", ("in", "sms"): "SMSMT"},
    "dot_cdr": {("out", "voice"): "OUT", ("in", "voice"): "IN", ("out", "sms"): "SMS_OUT", ("in", "sms"): "SMS_IN"},
}
HEADERS = {"airtel_cdr": AIRTEL_CDR_HEADER, "jio_cdr": JIO_CDR_HEADER, "vi_cdr": VI_CDR_HEADER,
           "bsnl_cdr": BSNL_CDR_HEADER, "dot_cdr": DOT_CDR_HEADER}
CALL_LAYOUTS = tuple(HEADERS)


def national(number: pd.Series) -> pd.Series:
    """Numbers as Indian operators print them: ten digits, no country code."""
    text = number.astype("string").fillna("")
    return text.where(~text.str.fullmatch(r"91\d{10}"), text.str.slice(2))


def _position(f: pd.DataFrame) -> pd.Series:
    if "lat" not in f:
        return pd.Series("", index=f.index)
    ok = f["lat"].notna() & f["lon"].notna()
    return (f["lat"].map("{:.5f}".format) + "/" + f["lon"].map("{:.5f}".format)).where(ok, "")


def excel_date(start: pd.Series) -> pd.Series:
    """Dates as Excel on a US-locale machine saves them: month first, without leading zeros (``3/14/2026``)."""
    return (start.dt.month.astype(str) + "/" + start.dt.day.astype(str) + "/" + start.dt.year.astype(str)).astype(
        "string")


def _rows(f: pd.DataFrame, layout: str, excel: bool = False) -> pd.DataFrame:
    """The data rows of one layout as text columns, in header order (``excel``: dates re-saved month-first)."""
    f = f.reset_index(drop=True)
    code = pd.Series([CODES[layout][(d, t)] for d, t in zip(f["direction"], f["type"], strict=True)], index=f.index)
    target, other = national(f["msisdn"]), national(f["b_party"])
    date, time = f["start"].dt.strftime("%d/%m/%Y"), f["start"].dt.strftime("%H:%M:%S")
    if excel:
        date = excel_date(f["start"])
    dur = f["duration"].astype(np.int64).astype(str)
    cell = f["cell"].astype("string").fillna("")
    last = f["last_cell"].astype("string").fillna("") if "last_cell" in f else cell
    imei = f["imei"].astype("string").fillna("") if "imei" in f else pd.Series("", index=f.index)
    imsi = f["imsi"].astype("string").fillna("") if "imsi" in f else pd.Series("", index=f.index)
    blank = pd.Series("", index=f.index)
    if layout == "airtel_cdr":
        pos = _position(f)
        cols = [target, code, blank, other, blank, blank, date, time, dur, pos, cell, pos, last, blank,
                pd.Series("PRE", index=f.index), imei, imsi, *[blank] * 9]
    elif layout == "jio_cdr":
        out_ = f["direction"] == "out"
        end = (f["start"] + pd.to_timedelta(f["duration"], unit="s")).dt.strftime("%H:%M:%S")
        cols = [target.where(out_, other), other.where(out_, target), blank, blank, date, time, end, dur,
                jio_hex_cell(cell), jio_hex_cell(last), code, blank, imei, imsi, pd.Series("Gujarat", index=f.index)]
    elif layout == "vi_cdr":
        cols = [target, code, pd.Series("Prepaid", index=f.index), other, blank, blank, date, time, dur,
                pd.Series("SITE", index=f.index), cell, pd.Series("SITE", index=f.index), last, blank,
                pd.Series("VOICE", index=f.index), imei, imsi, blank, pd.Series("GUJ", index=f.index),
                pd.Series("MSC1", index=f.index), blank, blank, blank, blank]
    elif layout == "bsnl_cdr":
        where = ("Kolkata; Lat-" + f["lat"].map("{:.5f}".format) + "; Long-" + f["lon"].map("{:.5f}".format)
                 if "lat" in f else pd.Series("Kolkata", index=f.index))
        cols = [target, code, pd.Series("Prepaid", index=f.index), other, blank, blank, date, time, dur, where, cell,
                where, last, blank, pd.Series("VOICE", index=f.index), imei, imsi, blank,
                pd.Series("WB", index=f.index), pd.Series("MSC1", index=f.index), blank, blank]
    elif layout == "dot_cdr":
        cols = [target, other, date, time, dur, cell, last, code, imei, imsi, pd.Series("Pre-paid", index=f.index),
                pd.Series("GJ", index=f.index)]
    else:
        raise ValueError(f"unknown call layout {layout}")
    return pd.concat([c.astype("string").fillna("") for c in cols], axis=1)


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _pad(head: str, width: int) -> str:
    """Preamble lines as Excel saves them: each padded with commas up to the header's width."""
    return "".join(line + "," * (width - 1) + "\n" for line in head.splitlines())


def render_calls(f: pd.DataFrame, layout: str, *, period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                 tower_cell: str = "", excel: bool = False) -> str:
    """The whole file of one CDR (or, with ``tower_cell``, an Airtel tower dump of that cell).

    ``excel`` writes an Airtel export as it comes back after a re-save through Excel on a
    US-locale machine (BRIEF.md): the row dates month-first without leading zeros, every
    preamble line padded with commas to the header's width; the preamble's own text (its
    period) is unchanged, since Excel keeps text cells as they were.
    """
    if excel and layout != "airtel_cdr":
        raise ValueError("Excel re-saved call records are written in the Airtel layout")
    f = f.sort_values("start", kind="stable").reset_index(drop=True)
    first = f["start"].min().floor("D") if len(f) else pd.Timestamp("2026-03-02")
    last = (f["start"].max().floor("D") if len(f) else first) + pd.Timedelta(seconds=86399)
    if period is not None:
        first, last = pd.Timestamp(period[0]), pd.Timestamp(period[1])
    msisdn = str(national(f["msisdn"]).iloc[0]) if len(f) else "9000000000"
    span = f"from '{first:%d-%m-%Y %H:%M:%S}' to '{last:%d-%m-%Y %H:%M:%S}'"
    if tower_cell:
        if layout != "airtel_cdr":
            raise ValueError("tower dumps are written in the Airtel layout")
        head = f"BHARTI AIRTEL LIMITED\nCall Details of CELL ID '{tower_cell}' {span}\n"
        if excel:
            head = _pad(head, len(HEADERS[layout]))
        if f.empty:
            return head + "No Data Found\n"
    else:
        head = {
            "airtel_cdr": f"BHARTI AIRTEL LIMITED\nCall Details of Mobile No '{msisdn}' {span}\n",
            "jio_cdr": (f"Ticket Number :,LEA-0001\nInput Value (MSISDN/B PARTY/IMEI/IMSI/CELL ID) :,{msisdn}\n"
                        f"Date Range :,{first:%d/%m/%Y} - {last:%d/%m/%Y}\n"),
            "vi_cdr": "VODAFONE IDEA CALL DATA RECORDS\nReport Type :- MSISDN\n\n",
            "bsnl_cdr": f"Search Criteria : MSISDN\nStart Date : {first:%Y%m%d%H%M}\n\n",
            "dot_cdr": "",
        }[layout]
        if excel:
            head = _pad(head, len(HEADERS[layout]))
    body = _rows(f, layout, excel)
    lines = [HEADERS[layout], *body.to_numpy().tolist()]
    text = _csv(lines)
    if layout == "vi_cdr":  # Vi data rows end with a trailing comma
        parts = text.split("\n")
        text = "\n".join([parts[0], *[p + "," if p else p for p in parts[1:]]])
    foot = {"bsnl_cdr": f"*** END OF REPORT ***\nCDR COUNT : {len(f)}\n"}.get(layout, "")
    return head + text + foot


def write_calls(f: pd.DataFrame, layout: str, path: str | Path, **kw: object) -> Path:
    """Write one CDR or tower dump; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_calls(f, layout, **kw), encoding="utf-8")  # type: ignore[arg-type]
    return p
