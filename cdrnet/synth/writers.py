"""Render sessions into each operator's real export layout.

Used by the simulator and the tests, so fixtures carry the same preambles,
footers, time formats and quirks as the exports police receive (see BRIEF.md).
Input columns: msisdn (12 digits with country code), imsi, imei (15 or 16
digits), start/end (naive local datetimes), src_ip, src_port, public_ip,
public_port, dest_ip, dest_port, cell_id, uplink, downlink; optional proto.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

LAYOUTS = ("paper", "jio", "airtel", "airtel_excel", "vi", "vi_gprs")

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


def render(s: pd.DataFrame, layout: str, *, delimiter: str = ",", pdp_minutes: int = 0) -> str:
    """Return the dump text for one layout (the whole file)."""
    s = s.reset_index(drop=True)
    msisdn = str(s["msisdn"].iloc[0]) if len(s) else "919000000000"
    first = s["start"].min() if len(s) else pd.Timestamp("2023-01-01")
    last = s["end"].max() if len(s) else first
    return (preamble(layout, msisdn, first, last, delimiter)
            + body(s, layout, delimiter=delimiter, pdp_minutes=pdp_minutes, with_header=True)
            + footer(layout, delimiter))


def header(layout: str) -> list[str]:
    return {"paper": PAPER_HEADER, "jio": JIO_HEADER, "airtel": AIRTEL_HEADER,
            "airtel_excel": AIRTEL_HEADER + ["CGI Latitude", "CGI Longitude", "CGI"], "vi": VI_HEADER,
            "vi_gprs": VI_GPRS_HEADER}[layout]


def _pad(layout: str, delimiter: str) -> str:
    return delimiter * (len(header(layout)) - 1) if layout == "airtel_excel" else ""


def preamble(layout: str, msisdn: str, first: pd.Timestamp, last: pd.Timestamp, delimiter: str = ",") -> str:
    """Lines an operator puts before the header."""
    pad = _pad(layout, delimiter)
    if layout in ("airtel", "airtel_excel"):
        lines = [f"BHARTI AIRTEL LTD{pad}", pad, f"Pan India{pad}", pad,
                 f"CDR OF MSISDN : {msisdn[2:]} from {first:%d-%b-%Y} to {last:%d-%b-%Y}{pad}", pad]
    elif layout == "vi":
        lines = ["VIL Call Data Records", f"MSISDN:- {msisdn}", f"From Date:- {first:%Y-%m-%d}", f"To Date:- {last:%Y-%m-%d}", ""]
    elif layout == "vi_gprs":
        lines = ["-" * 120, f"{'GPRS Report':^120}", "-" * 120, ""]
    else:
        return ""
    return "\n".join(lines) + "\n"


def footer(layout: str, delimiter: str = ",") -> str:
    """Lines an operator puts after the rows."""
    pad = _pad(layout, delimiter)
    if layout in ("airtel", "airtel_excel"):
        return "\n".join([pad, f"This is System generated report and does not require signature{pad}",
                          f"{pd.Timestamp('2026-01-05 10:00'):%d-%b-%Y %H:%M:%S}{pad}"]) + "\n"
    if layout == "vi":
        return "\nNote :- This is a System generated Report.\n"
    return ""


def body(s: pd.DataFrame, layout: str, *, delimiter: str = ",", pdp_minutes: int = 0, with_header: bool = False,
         serial_start: int = 1) -> str:
    """The rows (and optionally the header line) of one layout."""
    frame, cols = _frame(s.reset_index(drop=True), layout, pdp_minutes, serial_start)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    if with_header:
        w.writerow(cols)
    w.writerows(frame[cols].itertuples(index=False, name=None))
    return buf.getvalue()


def _sci(v: pd.Series) -> pd.Series:
    """What Excel shows for a long number: 3.5E+15 (digits lost)."""
    num = pd.to_numeric(v, errors="coerce")
    mant = (num / 10 ** np.floor(np.log10(num.where(num > 0)))).round(1)
    exp = np.floor(np.log10(num.where(num > 0)))
    text = mant.map(lambda m: f"{m:.1f}") + "E+" + exp.astype("Int64").astype("string")
    return text.where(num > 0, "").astype("string").fillna("")


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
        out[JIO_HEADER[17]] = _s(s["cell_id"])
        out[JIO_HEADER[18]] = _fmt(s["start"], "%d/%m/%Y %H:%M:%S")
        out[JIO_HEADER[19]] = "H"
        out[JIO_HEADER[20]] = "Delhi"
        out[JIO_HEADER[21]] = _duration(s)
        return out, JIO_HEADER
    if layout in ("airtel", "airtel_excel"):
        excel = layout == "airtel_excel"
        start = s["start"]
        if pdp_minutes:
            # Many flows share one PDP-session start time in Airtel exports.
            bucket = start.dt.floor(f"{pdp_minutes}min")
            start = start.groupby([s["msisdn"], bucket]).transform("min")
        fmt = "%d/%m/%Y %H:%M" if excel else "%d-%b-%Y %H:%M:%S"
        out = pd.DataFrame({h: "" for h in AIRTEL_HEADER}, index=s.index)
        out["MSISDN"] = _s(s["msisdn"]).str.slice(2)
        imei, imsi = _s(s["imei"]), _s(s["imsi"])
        if excel:
            imei, imsi = _sci(imei), _sci(imsi)
        out["IMEI"], out["IMSI"] = imei, imsi
        out["Downlink_Vol"], out["Uplink_Vol"] = _s(s["downlink"]), _s(s["uplink"])
        out["Session_Start_Time"] = _fmt(start, fmt)
        out["Session_End_Time"] = _fmt(s["end"], fmt)
        out["Pre_Post"], out["Home_Roaming_Circle"], out["Home_Circle"] = "PREPAID", "DL", "DL"
        out["Translated_IP_Public_IPv4"] = _s(s["public_ip"])
        out["Translated_Port_Public_Port"] = _s(s["public_port"])
        out["Destination_IP"], out["Destination_Port"] = _s(s["dest_ip"]), _s(s["dest_port"])
        out["Source_IP"], out["Source_Port"] = _s(s["src_ip"]), _s(s["src_port"])
        out["Duration"] = _duration(s)
        out["Charging_ID"] = (start.astype("int64") // 10**9 % 10**8).astype(str)
        out["Access_Point_Name"], out["2g/3g/4g/5g"] = "airtelgprs.com", "4G"
        out["CELL ID"] = _s(s["cell_id"])
        if excel:
            out["CGI Latitude"], out["CGI Longitude"], out["CGI"] = "28.61", "77.20", _s(s["cell_id"])
        return out, header(layout)
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
    return f"BHARTI AIRTEL LTD\n\nPan India\n\nCDR OF MSISDN : {msisdn} from 01-Apr-2023 to 30-Apr-2023\n\nNo Records Found\n"
