"""Render sessions into each operator's real export layout.

Used by the simulator and the tests, so fixtures carry the same preambles,
footers, time formats and quirks as the exports police receive (see BRIEF.md).
Input columns: msisdn (12 digits with country code), imsi, imei (15 or 16
digits), start/end (naive local datetimes), src_ip, src_port, public_ip,
public_port, dest_ip, dest_port, cell_id, uplink, downlink; optional proto,
src_ip6, serial, and for Airtel the partial-record columns record_end, charging_id,
record_up, record_down (see ``partial_records``; derived when absent).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

PAPER_HEADER = ["PRIVATEIP", "PRIVATEPORT", "PUBLICIP", "PUBLICPORT", "DESTIP", "DESTPORT", "MSISDN", "IMSI",
                "START_DATE", "START_TIME", "END_DATE", "END_TIME", "IMEI", "CELL_ID", "UPLINK_VOLUME",
                "DOWNLINK_VOLUME", "TOTAL_VOLUME", "I_RATTYPE"]
JIO_HEADER = ["Landline/MSISDN/MDN/Leased Circuit ID for Internet Access",
              "Source IP Address (IP Address Assigned/Translated)", "Source Port (Port Assigned/Translated)",
              "Public IP Address", "Public IP Port", "Destination IP Address", "Destination Port",
              "Start Date of Public IP Address allocation (dd/mm/yyyy)",
              "IST Start Time of Public IP address allocation (hh:mm:ss)",
              "End Date of Public IP address allocation (dd/mm/yyyy)",
              "IST End Time of Public IP address allocation (hh:mm:ss)", "Static/Dynamic IP Address Allocation",
              "User Id for internet Access based on authentication",
              "Source MAC-ID Address/Other device Identification number", "IMSI", "PGW IP address",
              "Access Point Name", "CGI ID", "TIME1 (dd/MM/yyyy HH:mm:ss)", "Roaming Circle Indicator",
              "Roaming Circle", "Session Duration"]
AIRTEL_HEADER = ["MSISDN", "IMEI", "IMSI", "Downlink_Vol", "Uplink_Vol", "Session_Start_Time", "Session_End_Time",
                 "Pre_Post", "Home_Roaming_Circle", "Roaming_Network_Indicator", "ICR_Operator_Name", "Home_Circle",
                 "Translated_IP_Public_IPv4", "Public_IPv6", "Translated_Port_Public_Port", "Destination_IP",
                 "Destination_Port", "Source_IP", "Source_Port", "Duration", "Charging_ID", "Access_Point_Name",
                 "PDP_Address", "PGW_GGSN_IP_Address", "2g/3g/4g/5g", "CELL ID"]
VI_HEADER = ["SR.NO.", "IMSI", "IMEI", "MSISDN", "MAC ID", "Source IP", "Source Port", "Destination IP",
             "Destination Port", "Translated IP", "Translated Port", "First Cell ID-Name/Location",
             "Session Start date & time", "Session End date & time", "Duration in sec", "Data Volume Uplink",
             "Data Volume Downlink", "PGW IP address", "Charging ID", "Access Point Name", "PDP Address IPv4",
             "PDP Address IPv6", "CGI-ld", "RAT", "PDP-type"]
VI_GPRS_HEADER = ["Target /A PARTY NUMBER", "Type of Connection", "Call date", "Call Initiation Time",
                  "Call Duration", "First BTS Location", "First Cell Global Id", "Service Type", "IMEI", "IMSI",
                  "MAC ID", "IP Address", "APN", "Data Uplink Volume", "Data Downlink Volume", "RAT",
                  "Last BTS Location", "Last Cell Global Id"]


def _fmt(ts: pd.Series, fmt: str) -> pd.Series:
    return ts.dt.strftime(fmt).fillna("")


def _s(x: pd.Series) -> pd.Series:
    return x.astype("string").fillna("")


def _duration(s: pd.DataFrame) -> pd.Series:
    return ((s["end"] - s["start"]).dt.total_seconds().fillna(0).astype(np.int64)).astype(str)


def render(s: pd.DataFrame, layout: str, *, delimiter: str = ",", pdp_minutes: int = 0,
           period: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> str:
    """Return the dump text for one layout (the whole file).

    ``period`` is the requested period the preamble states; by default the whole
    local days the rows fall on (00:00:00 to 23:59:59), as operators are asked.
    """
    s = s.reset_index(drop=True)
    msisdn = str(s["msisdn"].iloc[0]) if len(s) else "919000000000"
    if period is None:
        first = s["start"].min().floor("D") if len(s) else pd.Timestamp("2023-01-01")
        last = (s["start"].max().floor("D") if len(s) else first) + pd.Timedelta(seconds=86399)
    else:
        first, last = pd.Timestamp(period[0]), pd.Timestamp(period[1])
    return (preamble(layout, msisdn, first, last, delimiter)
            + body(s, layout, delimiter=delimiter, pdp_minutes=pdp_minutes, with_header=True, period_end=last)
            + footer(layout, last))


EXCEL_CGI = ["  CGI Latitude", " CGI Longitude", " CGI"]  # as Excel re-saved them: leading spaces kept


def header(layout: str) -> list[str]:
    """Header row of a layout; Excel re-saved Airtel drops ``CELL ID`` for three CGI columns."""
    return {"paper": PAPER_HEADER, "jio": JIO_HEADER, "airtel": AIRTEL_HEADER,
            "airtel_excel": AIRTEL_HEADER[:-1] + EXCEL_CGI, "vi": VI_HEADER,
            "vi_gprs": VI_GPRS_HEADER}[layout]


def _pad(layout: str, delimiter: str) -> str:
    """Excel pads every preamble row with delimiters up to the header's width."""
    return delimiter * (len(header(layout)) - 1) if layout == "airtel_excel" else ""


def report_time(last: pd.Timestamp) -> pd.Timestamp:
    """When the operator ran the export: a fixed morning some days after the period (deterministic)."""
    return (pd.Timestamp(last).floor("D") + pd.Timedelta(days=9, hours=10))


def preamble(layout: str, msisdn: str, first: pd.Timestamp, last: pd.Timestamp, delimiter: str = ",") -> str:
    """Lines an operator puts before the header, stating the requested period [first, last] as it does.

    Airtel: ``CDR OF MSISDN : N from 02-Mar-2026 00:00:00 to 03-Mar-2026 23:59:59``; re-saved
    through Excel the line reads ``IPDR OF Mobile No : …`` and every row is comma-padded; Vi
    states ``From Date:-``/``From Time:-``/``Till Date:-``/``Till Time:-``. Jio and the paper's
    layout state no period (the loader falls back to the span of rows).
    """
    pad = _pad(layout, delimiter)
    local = msisdn[2:] if len(msisdn) == 12 else msisdn
    span = f"from {first:%d-%b-%Y %H:%M:%S} to {last:%d-%b-%Y %H:%M:%S}"
    if layout == "airtel":
        lines = ["BHARTI AIRTEL LTD", "", "Pan India", "", f"CDR OF MSISDN : {local} {span}", ""]
    elif layout == "airtel_excel":
        lines = [f"BHARTI AIRTEL LTD{pad}", pad, f"Pan India{pad}", pad,
                 f"IPDR OF Mobile No : {local} {span}{pad}", pad]
    elif layout == "vi":
        lines = ["VIL Call Data Records", "", f"MSISDN:- {local}", "Report Type:- ",
                 f"From Date:- {first:%Y-%m-%d}", f"From Time:- {first:%H:%M:%S}",
                 f"Till Date:- {last:%Y-%m-%d}", f"Till Time:- {last:%H:%M:%S}",
                 f"AuditId:- {int(local) % 10**15:015d}" if local.isdigit() else "AuditId:- ",
                 f"Report Date:- {report_time(last):%Y-%m-%d %H:%M:%S}", ""]
    elif layout == "vi_gprs":
        lines = ["-" * 120, f"{'GPRS Report':^120}", "-" * 120, ""]
    else:
        return ""
    return "\n".join(lines) + "\n"


def footer(layout: str, last: pd.Timestamp | None = None) -> str:
    """Lines an operator puts after the rows (Excel re-saved Airtel lost its footer, as in the real sample)."""
    when = report_time(last if last is not None else pd.Timestamp("2025-12-27"))
    if layout == "airtel":
        return "\n".join(["", " This is System generated report, and needs no signature.", "",
                          f" {when:%d-%b-%Y %H:%M:%S}"]) + "\n"
    if layout == "vi":
        return f"\nNote :- This is a System generated Report.\nGenerated on {when:%Y-%m-%d %H:%M:%S}\n"
    return ""


def body(s: pd.DataFrame, layout: str, *, delimiter: str = ",", pdp_minutes: int = 0, with_header: bool = False,
         serial_start: int = 1, period_end: pd.Timestamp | None = None) -> str:
    """The rows (and optionally the header line) of one layout."""
    s = s.reset_index(drop=True)
    if layout in ("airtel", "airtel_excel") and "charging_id" not in s:
        s = with_partial_records(s, np.random.default_rng(0), period_end=period_end)
    frame, cols = _frame(s, layout, pdp_minutes, serial_start)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    if with_header:
        w.writerow(cols)
    w.writerows(frame[cols].itertuples(index=False, name=None))
    return buf.getvalue()


def _sci(v: pd.Series) -> pd.Series:
    """What Excel's General format shows for a long number: ``3.56048E+15`` (6 significant digits,
    trailing zeros dropped: ``4.0486E+14``); the other digits are lost for good."""
    num = pd.to_numeric(v, errors="coerce")
    ok = (num > 0).to_numpy()
    text = np.char.mod("%.5E", np.where(ok, num.to_numpy(dtype=float, na_value=0.0), 1.0))
    text = pd.Series(text, index=v.index, dtype="string").str.replace(r"\.?0+E", "E", regex=True)
    return text.where(ok, "")


def jio_hex_cell(cell: pd.Series) -> pd.Series:
    """A hyphenated cell id as Jio writes it in its CDRs and IPDRs alike (BRIEF.md, the samples'
    ``4058740000e718``): MCC, the MNC in a 3-digit field, the cell identity in 8 hex digits, no TAC.
    Worked out per distinct cell (a dump holds few), then gathered back to rows."""
    text = cell.astype("string").fillna("")
    codes, uniq = pd.factorize(text)
    parts = pd.Series(uniq, dtype="string").str.split("-", expand=True)
    if parts.shape[1] < 4:
        return text
    eci = pd.to_numeric(parts[3], errors="coerce").fillna(0).astype(np.int64)
    hexed = (parts[0] + parts[1].str.zfill(3) + eci.map(lambda v: f"{v:08x}")).where(pd.Series(uniq) != "", "")
    return pd.Series(hexed.to_numpy()[codes], index=cell.index, dtype="string")


def _cgi_position(cell: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A stable made-up position per cell id (Excel re-saved exports carry CGI latitude/longitude)."""
    codes, uniq = pd.factorize(cell)
    h = np.array([int.from_bytes(str(u).encode()[-6:].rjust(6, b"0"), "big") for u in uniq], dtype=np.int64)
    lat = np.char.mod("%.3f", 23.0 + (h % 997) / 9970.0)
    lon = np.char.mod("%.4f", 72.0 + (h // 997 % 991) / 9910.0)
    return (pd.Series(lat[codes] if len(uniq) else np.zeros(0, str), index=cell.index),
            pd.Series(lon[codes] if len(uniq) else np.zeros(0, str), index=cell.index))


def cell_positions(cell: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The made-up position of each cell id as floats (the same the Excel re-saved exports state)."""
    lat, lon = _cgi_position(cell.astype("string").fillna(""))
    return lat.astype(float), lon.astype(float)


def partial_records(sub: np.ndarray, start: pd.Series, rng: np.random.Generator, min_minutes: float = 15.0,
                    max_minutes: float = 60.0) -> tuple[pd.Series, np.ndarray]:
    """Airtel's partial PDP records: each subscriber's day is cut into records of 15-60 minutes.

    Returns, per flow, when its record closed (``Session_End_Time``: shared by every flow of
    the record, 15-60 min after the record opened, never past midnight) and the record's
    number within the subscriber-day. Vectorised: one searchsorted over all cut points.
    """
    if not len(start):
        return pd.Series(start, dtype="datetime64[ns]"), np.zeros(0, dtype=np.int64)
    day = start.dt.floor("D")
    secs = ((start - day).dt.total_seconds().to_numpy()).astype(np.int64)
    group, _ = pd.factorize(pd.Series(np.asarray(sub)).astype(str) + "|" + day.dt.strftime("%Y%m%d").to_numpy())
    k = int(np.ceil(1440 / min_minutes)) + 1
    gaps = rng.uniform(min_minutes * 60, max_minutes * 60, (int(group.max()) + 1, k)).round()
    cuts = np.cumsum(gaps, axis=1).astype(np.int64)  # record closes, seconds into the day
    span = np.int64(10**6)
    flat = (np.arange(len(cuts), dtype=np.int64)[:, None] * span + cuts).ravel()
    j = np.searchsorted(flat, group * span + secs, side="right")
    number = j - group * k
    close = np.minimum(cuts.ravel()[j], 86399)
    return day + pd.to_timedelta(close, unit="s"), number.astype(np.int64)


def with_partial_records(s: pd.DataFrame, rng: np.random.Generator, *, period_end: pd.Timestamp | None = None,
                         base: int = 900000000) -> pd.DataFrame:
    """Add Airtel record columns (record_end, charging_id, record_up, record_down) to sessions.

    Volumes become the record's totals, which Airtel repeats on every flow row of the record.
    """
    s = s.copy()
    close, number = partial_records(s["msisdn"].to_numpy(), s["start"], rng)
    if period_end is not None:
        close = close.clip(upper=pd.Timestamp(period_end))
    rec, _ = pd.factorize(s["msisdn"].astype(str) + "|" + s["start"].dt.strftime("%Y%m%d") + "|"
                          + pd.Series(number).astype(str).to_numpy())
    s["record_end"] = close.to_numpy()
    s["charging_id"] = base + rec
    return add_record_totals(s)


def add_record_totals(s: pd.DataFrame) -> pd.DataFrame:
    """Record totals repeated on each flow row of the record (same ``charging_id``)."""
    g = s.groupby("charging_id", sort=False)
    s["record_up"] = g["uplink"].transform("sum").astype(np.int64)
    s["record_down"] = g["downlink"].transform("sum").astype(np.int64)
    return s


def _frame(s: pd.DataFrame, layout: str, pdp_minutes: int, serial_start: int) -> tuple[pd.DataFrame, list[str]]:
    if layout == "paper":
        out = pd.DataFrame({
            "PRIVATEIP": _s(s["src_ip"]), "PRIVATEPORT": _s(s["src_port"]), "PUBLICIP": _s(s["public_ip"]),
            "PUBLICPORT": _s(s["public_port"]), "DESTIP": _s(s["dest_ip"]), "DESTPORT": _s(s["dest_port"]),
            "MSISDN": _s(s["msisdn"]), "IMSI": _s(s["imsi"]), "START_DATE": _fmt(s["start"], "%d/%m/%Y"),
            "START_TIME": _fmt(s["start"], "%H:%M:%S"), "END_DATE": _fmt(s["end"], "%d/%m/%Y"),
            "END_TIME": _fmt(s["end"], "%H:%M:%S"), "IMEI": _s(s["imei"]).str.slice(0, 15),
            "CELL_ID": _s(s["cell_id"]), "UPLINK_VOLUME": _s(s["uplink"]), "DOWNLINK_VOLUME": _s(s["downlink"]),
            "TOTAL_VOLUME": _s(s["uplink"] + s["downlink"]), "I_RATTYPE": "4G",
        })
        return out, PAPER_HEADER
    if layout == "jio":
        alloc = s["start"].dt.floor("30min")
        out = pd.DataFrame({h: "" for h in JIO_HEADER}, index=s.index)
        out[JIO_HEADER[0]] = _s(s["msisdn"])
        out[JIO_HEADER[1]] = _s(s.get("src_ip6", s["src_ip"]))
        out[JIO_HEADER[2]] = _s(s["src_port"])
        out[JIO_HEADER[3]] = _s(s["public_ip"])
        out[JIO_HEADER[4]] = _s(s["public_port"])
        out[JIO_HEADER[5]] = _s(s["dest_ip"])
        out[JIO_HEADER[6]] = _s(s["dest_port"])
        out[JIO_HEADER[7]] = _fmt(alloc, "%d/%m/%Y")
        out[JIO_HEADER[8]] = _fmt(alloc, "%H:%M:%S")
        out[JIO_HEADER[9]] = _fmt(alloc + pd.Timedelta(minutes=30), "%d/%m/%Y")
        out[JIO_HEADER[10]] = _fmt(alloc + pd.Timedelta(minutes=30), "%H:%M:%S")
        out[JIO_HEADER[11]] = "Dynamic"
        out[JIO_HEADER[13]] = _s(s["imei"]).str.slice(0, 15)
        out[JIO_HEADER[14]] = _s(s["imsi"])
        out[JIO_HEADER[15]] = "10.20.30.40"
        out[JIO_HEADER[16]] = "jionet"
        out[JIO_HEADER[17]] = jio_hex_cell(_s(s["cell_id"]))  # CGI ID: hex, as Jio's CDRs write it
        out[JIO_HEADER[18]] = _fmt(s["start"], "%d/%m/%Y %H:%M:%S")
        out[JIO_HEADER[19]] = "H"
        out[JIO_HEADER[20]] = "Delhi"
        out[JIO_HEADER[21]] = _duration(s)
        return out, JIO_HEADER
    if layout in ("airtel", "airtel_excel"):
        # One row per flow: the start is the flow's own, to the second; Session_End_Time is when
        # the partial PDP record closed and the volumes are the record's totals (same Charging_ID).
        excel = layout == "airtel_excel"
        start = s["start"]
        if pdp_minutes:
            # The older PDP-session style: many flows share one session start time.
            bucket = start.dt.floor(f"{pdp_minutes}min")
            start = start.groupby([s["msisdn"], bucket]).transform("min")
        close = pd.Series(s["record_end"], index=s.index) if "record_end" in s else s["end"]
        close = close.where(close >= start, start)
        fmt = "%m/%d/%Y %H:%M" if excel else "%d-%b-%Y %H:%M:%S"
        cols = header(layout)
        out = pd.DataFrame({h: "" for h in cols}, index=s.index)
        out["MSISDN"] = _s(s["msisdn"]).str.slice(2)
        imei, imsi = _s(s["imei"]), _s(s["imsi"])
        if excel:
            imei, imsi = _sci(imei), _sci(imsi)
        out["IMEI"], out["IMSI"] = imei, imsi
        out["Downlink_Vol"] = _s(s["record_down"] if "record_down" in s else s["downlink"])
        out["Uplink_Vol"] = _s(s["record_up"] if "record_up" in s else s["uplink"])
        out["Session_Start_Time"] = _fmt(start, fmt)
        out["Session_End_Time"] = _fmt(close, fmt)
        out["Pre_Post"], out["Home_Roaming_Circle"], out["Roaming_Network_Indicator"] = "Post", "DELHI", "HOME"
        out["Home_Circle"] = "DELHI"
        out["Translated_IP_Public_IPv4"] = _s(s["public_ip"])
        out["Public_IPv6"] = _s(s["src_ip6"]) if "src_ip6" in s else ""
        out["Translated_Port_Public_Port"] = _s(s["public_port"])
        out["Destination_IP"], out["Destination_Port"] = _s(s["dest_ip"]), _s(s["dest_port"])
        out["Source_IP"], out["Source_Port"] = _s(s["src_ip"]), _s(s["src_port"])
        out["Duration"] = ((close - start).dt.total_seconds().fillna(0).astype(np.int64)).astype(str)
        out["Charging_ID"] = (_s(s["charging_id"]) if "charging_id" in s
                              else (start.astype("int64") // 10**9 % 10**8).astype(str))
        out["Access_Point_Name"], out["2g/3g/4g/5g"] = "airtelgprs.com", "4G"
        out["PDP_Address"], out["PGW_GGSN_IP_Address"] = _s(s["src_ip"]), "117.96.119.140"
        if excel:
            out[EXCEL_CGI[0]], out[EXCEL_CGI[1]] = _cgi_position(_s(s["cell_id"]))
            out[EXCEL_CGI[2]] = _s(s["cell_id"])
        else:
            out["CELL ID"] = _s(s["cell_id"])
        return out, cols
    if layout == "vi":
        out = pd.DataFrame({h: "" for h in VI_HEADER}, index=s.index)
        out["SR.NO."] = (s["serial"] if "serial" in s else pd.Series(s.index + serial_start)).astype(str)
        out["IMSI"], out["IMEI"], out["MSISDN"] = _s(s["imsi"]), _s(s["imei"]), _s(s["msisdn"])
        out["Source IP"], out["Source Port"] = _s(s["src_ip"]), _s(s["src_port"])
        out["Destination IP"], out["Destination Port"] = _s(s["dest_ip"]), _s(s["dest_port"])
        out["Translated IP"], out["Translated Port"] = _s(s["public_ip"]), _s(s["public_port"])
        out["First Cell ID-Name/Location"] = "Sector " + _s(s["cell_id"]).str.slice(-3) + ", New Delhi"
        out["Session Start date & time"] = _fmt(s["start"], "%d/%m/%Y %H:%M:%S")
        out["Session End date & time"] = _fmt(s["end"], "%d/%m/%Y %H:%M:%S")
        out["Duration in sec"] = _duration(s)
        out["Data Volume Uplink"], out["Data Volume Downlink"] = _s(s["uplink"]), _s(s["downlink"])
        out["Access Point Name"], out["CGI-ld"], out["RAT"], out["PDP-type"] = "www", _s(s["cell_id"]), "LTE", "IPv4v6"
        return out, VI_HEADER
    if layout == "vi_gprs":
        out = pd.DataFrame({h: "" for h in VI_GPRS_HEADER}, index=s.index)
        out["Target /A PARTY NUMBER"], out["Type of Connection"] = _s(s["msisdn"]), "Prepaid"
        out["Call date"] = _fmt(s["start"], "%d/%m/%Y")
        out["Call Initiation Time"] = _fmt(s["start"], "%H:%M:%S")
        out["Call Duration"] = _duration(s)
        out["First BTS Location"] = "Sector " + _s(s["cell_id"]).str.slice(-3) + " New Delhi"
        out["First Cell Global Id"], out["Service Type"] = _s(s["cell_id"]), "GPRS"
        out["IMEI"], out["IMSI"], out["IP Address"] = _s(s["imei"]), _s(s["imsi"]), _s(s["src_ip"])
        out["APN"], out["RAT"] = "www", "4G"
        out["Data Uplink Volume"], out["Data Downlink Volume"] = _s(s["uplink"]), _s(s["downlink"])
        return out, VI_GPRS_HEADER
    raise ValueError(f"unknown layout {layout}")




def write_dump(s: pd.DataFrame, layout: str, path: str | Path, **kw: object) -> Path:
    """Write one dump file; the caller picks the name (as operators do: per MSISDN)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render(s, layout, **kw), encoding="utf-8", newline="")  # type: ignore[arg-type]
    return p


def empty_airtel_export(msisdn: str) -> str:
    """What Airtel sends when the subscriber had no data sessions."""
    return (f"BHARTI AIRTEL LTD\n\nPan India\n\nCDR OF MSISDN : {msisdn} from 01-Apr-2023 to 30-Apr-2023\n\n"
            "No Records Found\n")
