"""Real export shapes read faithfully (issue 14): cells and places, record volumes, honest
application labels, empty and duplicate exports, every delivery format, more layouts.

Every file here is generated in the shape the brief describes; the numbers are made up.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import py7zr
import pytest

from cdrnet.analysis.profile import build_profile
from cdrnet.analysis.trends import app_sessions, per_day
from cdrnet.analysis.units import messaging_sessions
from cdrnet.loader.cells import canonical_cell
from cdrnet.loader.layouts import builtin_layouts, load_layout_file
from cdrnet.loader.signatures import promote_possible, unknown_destinations
from cdrnet.loader.volumes import row_volumes, total_volume
from tests.conftest import ingest, run_cli

AIRTEL_PREAMBLE = ("BHARTI AIRTEL LTD\n\nPan India\n\n"
                   "CDR OF MSISDN : 7873019433 from 02-Mar-2026 00:00:00 to 03-Mar-2026 23:59:59\n\n")
AIRTEL_HEADER = ("MSISDN,IMEI,IMSI,Downlink_Vol,Uplink_Vol,Session_Start_Time,Session_End_Time,Pre_Post,"
                 "Home_Roaming_Circle,Roaming_Network_Indicator,ICR_Operator_Name,Home_Circle,"
                 "Translated_IP_Public_IPv4,Public_IPv6,Translated_Port_Public_Port,Destination_IP,Destination_Port,"
                 "Source_IP,Source_Port,Duration,Charging_ID,Access_Point_Name,PDP_Address,PGW_GGSN_IP_Address,"
                 "2g/3g/4g/5g,CELL ID")
FOOTER = "\nThis is System generated report,,\n01-Apr-2026\n"


def airtel_row(start: str, end: str, dest: str, port: int, charging: int, down: int, up: int,
               cell: str = "404-70-166-59160", msisdn: str = "7873019433") -> str:
    return (f"{msisdn},3560477695914800,404860040053689,{down},{up},{start},{end},Post,GUJARAT,HOME,,GUJARAT,"
            f"49.36.54.140,2401:4900::1,6098,{dest},{port},10.179.31.184,54874,60,{charging},airtelgprs.com,"
            f"10.179.31.184,117.96.119.140,4G,{cell}")


def airtel_records() -> str:
    """3 records x 4 flows: each record's totals repeated on its 4 flow rows (per-row sum = 4x)."""
    rows = []
    for r, (close, down, up) in enumerate([("02-Mar-2026 10:30:00", 4000, 1000),
                                           ("02-Mar-2026 11:00:00", 8000, 2000),
                                           ("02-Mar-2026 11:30:00", 2000, 500)]):
        for k in range(4):
            start = f"02-Mar-2026 {10 + r // 2:02d}:{(r % 2) * 30 + k * 5:02d}:{k:02d}"
            rows.append(airtel_row(start, close, "157.240.1.10" if k % 2 else "13.232.5.9", 5222 if k < 2 else 443,
                                   900000 + r, down, up))
    return AIRTEL_PREAMBLE + AIRTEL_HEADER + "\n" + "\n".join(rows) + FOOTER


def write(tmp: Path, name: str, text: str | bytes) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        p.write_text(text, encoding="utf-8")
    else:
        p.write_bytes(text)
    return p


def one(ws, path: Path):
    res = ingest(ws, path)
    assert not res.failed and not res.refused, (res.failed, res.refused)
    assert len(res.loaded) == 1
    rep = res.loaded[0]
    assert rep.accounted
    return rep


# ---------------------------------------------------------------- 1. cells and places

def test_cell_forms_join_and_jio_hex_decodes():
    # An LTE ECI (above 65535) is keyed without its TAC, so Airtel's form joins Jio's hex.
    assert canonical_cell("404-70-166-232169") == "404-70-232169"
    assert canonical_cell(" 404 70 0166 232169 ") == "404-70-232169"
    assert canonical_cell("40407000038ae9", hex_eci=True) == "404-70-232169"
    # Jio: MCC 405, MNC 874, LTE cell identity 0x0000e718 = 59160 (eNB 231 x 256 + sector 24)
    assert canonical_cell("4058740000e718", hex_eci=True) == "405-874-59160"
    assert canonical_cell("40585703AD319") == "405-857-" + str(0x03AD319)
    assert 0x03AD319 == 15059 * 256 + 25


def test_airtel_excel_cgi_and_position(ws, tmp_path):
    header = AIRTEL_HEADER.replace(",CELL ID", ",  CGI Latitude, CGI Longitude, CGI")
    rows = [airtel_row(f"03/02/2026 00:0{k}", "03/02/2026 00:30", "142.250.1.1", 443, 1, 100, 10,
                       cell=("23.060,72.0870,404-98-8149-59160" if k < 3 else "0,0,404-98-8149-36874"))
            for k in range(4)]
    pre = "\n".join(line + "," * 27 for line in AIRTEL_PREAMBLE.splitlines()) + "\n"
    rep = one(ws, write(tmp_path, "excel.csv", pre + header + "\n" + "\n".join(rows) + "\n"))
    assert rep.loaded == 4
    f = ws.sessions().sort_values("source_line")
    assert f["cell_id"].tolist() == ["404-98-8149-59160"] * 3 + ["404-98-8149-36874"]
    assert f["cell_raw"].tolist() == ["404-98-8149-59160"] * 3 + ["404-98-8149-36874"]
    assert f["lat"].iloc[0] == pytest.approx(23.06) and f["lon"].iloc[0] == pytest.approx(72.087)
    assert pd.isna(f["lat"].iloc[3]) and pd.isna(f["lon"].iloc[3])  # 0/0 is "unknown", not the Gulf of Guinea


def test_jio_generated_cgi(ws, tmp_path):
    header = ("Landline/MSISDN/MDN/Leased Circuit ID for Internet Access,"
              "Source IP Address (IP Address Assigned/Translated),"
              "Source Port (Port Assigned/Translated),Public IP Address,Public IP Port,Destination IP Address,"
              "Destination Port,Start Date of Public IP Address allocation (dd/mm/yyyy),"
              "IST Start Time of Public IP address allocation (hh:mm:ss),"
              "End Date of Public IP address allocation (dd/mm/yyyy),"
              "IST End Time of Public IP address allocation (hh:mm:ss),Static/Dynamic IP Address Allocation,"
              "User Id for internet Access based on authentication,"
              "Source MAC-ID Address/Other device Identification number,"
              "IMSI,PGW IP address,Access Point Name,CGI ID,TIME1 (dd/MM/yyyy HH:mm:ss),Roaming Circle Indicator,"
              "Roaming Circle,Session Duration")
    row = ("917873019433,2409:40c1::1,54874,49.36.54.140,6098,142.250.247.55,5228,02/03/2026,00:00:00,02/03/2026,"
           "00:30:00,Dynamic,917873019433,356047769591480,404860040053689,2405:200::1,,{cgi},02/03/2026 00:05:3{k},"
           "HOME,Gujarat,100")
    rows = [row.format(cgi=c, k=k) for k, c in enumerate(["4058740000e718", "4058740000E718", "405874000e718"])]
    rep = one(ws, write(tmp_path, "jio.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert rep.layout == "jio" and rep.loaded == 3
    f = ws.sessions().sort_values("source_line")
    assert f["cell_id"].tolist() == ["405-874-59160"] * 3
    assert f["cell_raw"].tolist() == ["4058740000e718", "4058740000E718", "405874000e718"]


VI_HEADER = ("SR.NO.,IMSI,IMEI,MSISDN,MAC ID,Source IP,Source Port,Destination IP,Destination Port,Translated IP,"
             "Translated Port,First Cell ID-Name/Location,Session Start date & time,Session End date & time,"
             "Duration in sec,Data Volume Uplink,Data Volume Downlink,PGW IP address,Charging ID,Access Point Name,"
             "PDP Address IPv4,PDP Address IPv6,CGI-ld,RAT,PDP-type")


def test_vi_cell_name_and_trailing_comma(ws, tmp_path):
    pre = ("VIL Call Data Records\n\nMSISDN:- 7873019433\nFrom Date:- 2026-03-02\nFrom Time:- 00:00:00\n"
           "Till Date:- 2026-03-03\nTill Time:- 23:59:59\n\n")
    rows = [f"{k},404860040053689,356047769591480,7873019433,,10.0.0.1,4000{k},157.240.1.{k},443,49.36.1.1,600{k},"
            f"ANDHERI EAST SITE {k},02/03/2026 10:0{k}:00,02/03/2026 10:0{k}:30,30,100,200,1.1.1.1,77{k},internet,"
            f"10.0.0.1,,404-20-1234-567{k},4G,IPv4," for k in range(1, 4)]
    rep = one(ws, write(tmp_path, "vi.csv", pre + VI_HEADER + "\n" + "\n".join(rows)
                        + "\nNote :- This is a System generated Report.\n"))
    assert rep.layout == "vi" and rep.loaded == 3 and rep.rejected == {}
    f = ws.sessions().sort_values("source_line")
    assert f["cell_name"].tolist() == ["ANDHERI EAST SITE 1", "ANDHERI EAST SITE 2", "ANDHERI EAST SITE 3"]
    assert f["cell_id"].tolist() == ["404-20-1234-5671", "404-20-1234-5672", "404-20-1234-5673"]
    assert f["dest_ip"].tolist() == ["157.240.1.1", "157.240.1.2", "157.240.1.3"]


# ---------------------------------------------------------------- 2. volumes once per record

def test_airtel_volumes_counted_once_per_record(ws, tmp_path):
    rep = one(ws, write(tmp_path, "airtel.csv", airtel_records()))
    assert rep.layout == "airtel" and rep.loaded == 12 and rep.volume_scope == "record"
    records = (4000 + 1000) + (8000 + 2000) + (2000 + 500)
    assert rep.volume_bytes == records == 17500
    assert rep.volume_rows_sum == 4 * records == 70000  # the per-row sum overstates 4x
    assert any("volume 17,500 B, counted once per record" in line for line in rep.summary_lines())
    f = ws.sessions()
    assert f["record_key"].nunique() == 3 and (f["record_key"] != "").all()
    assert total_volume(f) == pytest.approx(17500)
    p = build_profile(f, "917873019433")
    assert int(p.apps["volume_bytes"].sum()) == 17500
    assert row_volumes(f).groupby(f["record_key"]).sum().sort_values().tolist() == [2500, 5000, 10000]
    days = per_day(f.assign(volume_share=row_volumes(f)), "Asia/Kolkata")
    assert days["volume_bytes"].tolist() == [17500] and days["connections"].tolist() == [12]


def test_flow_scope_volumes_are_summed_per_row(ws, tmp_path):
    header = "PRIVATEIP,PRIVATEPORT,PUBLICIP,PUBLICPORT,DESTIP,DESTPORT,MSISDN,IMSI,START_DATE,START_TIME,END_DATE," \
             "END_TIME,IMEI,CELL_ID,UPLINK_VOLUME,DOWNLINK_VOLUME,TOTAL_VOLUME,I_RATTYPE"
    rows = [f"10.0.0.1,1000,1.1.1.1,2000,157.240.0.{k},443,919800000001,,14/03/2026,10:0{k}:00,14/03/2026,"
            f"10:0{k}:30,,,100,900,1000,4G" for k in range(3)]
    rep = one(ws, write(tmp_path, "paper.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert rep.volume_bytes == rep.volume_rows_sum == 3000
    assert total_volume(ws.sessions()) == 3000


# ---------------------------------------------------------------- 3. honest labels

def test_port_5222_outside_meta_is_only_possible(ws, tmp_path):
    rep = one(ws, write(tmp_path, "airtel.csv", airtel_records()))
    f = ws.sessions()
    on5222 = f[f["dest_port"] == 5222]
    labels = dict(zip(on5222["dest_ip"], on5222["app"], strict=False))
    assert labels == {"13.232.5.9": "XMPP (WhatsApp possible)", "157.240.1.10": "WhatsApp"}
    xmpp = f[f["app"] == "XMPP (WhatsApp possible)"]
    assert len(xmpp) == 3 and set(xmpp["app_confidence"]) == {"low"}
    assert set(xmpp["app_category"]) == {"messaging_possible"}
    # Out of messaging co-usage and WhatsApp trends by default; in when the analyst opts in.
    assert len(messaging_sessions(f)) == 6  # per record: WhatsApp (5222 on Meta) and Meta (443 on Meta)
    assert "XMPP (WhatsApp possible)" not in set(messaging_sessions(f)["app"])
    assert "XMPP (WhatsApp possible)" in set(messaging_sessions(promote_possible(f))["app"])
    assert "XMPP (WhatsApp possible)" not in set(app_sessions(f, "WhatsApp")["app"])
    # Identified share split: 12 sessions with a destination.
    assert (rep.app_named, rep.app_generic, rep.app_possible) == (6, 3, 3)
    assert rep.with_destination == 12


def test_signatures_unknown_lists_port_prefix(ws, tmp_path, capsys):
    header = "PRIVATEIP,PRIVATEPORT,PUBLICIP,PUBLICPORT,DESTIP,DESTPORT,MSISDN,IMSI,START_DATE,START_TIME,END_DATE," \
             "END_TIME,IMEI,CELL_ID,UPLINK_VOLUME,DOWNLINK_VOLUME,TOTAL_VOLUME,I_RATTYPE"
    ips = ["13.232.1.1", "13.232.9.9", "13.232.7.7", "52.66.1.1", "157.240.0.1"]
    ports = [5222, 5222, 5222, 8883, 443]
    rows = [f"10.0.0.1,1000,1.1.1.1,2000,{ip},{port},919800000001,,"
            f"14/03/2026,10:0{k}:00,14/03/2026,10:0{k}:30,,,1,1,2,4G"
            for k, (ip, port) in enumerate(zip(ips, ports, strict=True))]
    one(ws, write(tmp_path, "p.csv", header + "\n" + "\n".join(rows) + "\n"))
    table = unknown_destinations(ws.sessions())
    assert table[["port", "prefix", "sessions"]].values.tolist() == [[5222, "13.232.0.0/16", 3],
                                                                     [8883, "52.66.0.0/16", 1]]
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "signatures", "--unknown", "--csv")
    assert code == 0
    lines = [x for x in out.splitlines() if not x.startswith("store: ")]
    assert lines[:3] == ['"port","prefix","sessions","subscribers","share"', '5222,"13.232.0.0/16",3,1,0.75',
                         '8883,"52.66.0.0/16",1,1,0.25']


# ---------------------------------------------------------------- 4. empty and duplicate

def test_no_records_found_is_a_dump_with_its_subscriber(ws, tmp_path, capsys):
    p = write(tmp_path, "empty.csv", AIRTEL_PREAMBLE + "No Records Found\n")
    rep = one(ws, p)
    assert rep.layout == "empty-export" and rep.loaded == 0 and rep.no_records_for == ["917873019433"]
    assert rep.period_source == "preamble" and rep.msisdns == ["917873019433"]
    line = ("no records for 917873019433 in period 2026-03-02 00:00 .. 2026-03-03 23:59:59 Asia/Kolkata "
            "(stated in preamble)")
    assert f"  {line}" in rep.summary_lines()
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "dumps")
    assert code == 0 and line in out
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "profile", "917873019433")
    assert code == 0 and out.splitlines()[1] == f"{line} ({p})"


def test_no_records_found_under_unknown_header_is_refused(ws, tmp_path):
    text = "Some Tool Export\nA Party,B Party,Call Kind,When,Where,Duration\nNo Records Found\n"
    res = ingest(ws, write(tmp_path, "other.csv", text))
    assert not res.loaded and [r.kind for r in res.refused] == ["unknown layout"]


def test_identical_row_vs_operator_resend(ws, tmp_path):
    base = [airtel_row(f"02-Mar-2026 10:0{k}:00", "02-Mar-2026 10:30:00", "157.240.1.1", 443, 1, 100, 10)
            for k in range(3)]
    identical = base[0]
    resent = base[1].replace("404-70-166-59160", "404-70-166-11111")  # same flow, corrected cell
    text = AIRTEL_PREAMBLE + AIRTEL_HEADER + "\n" + "\n".join([*base, identical, resent]) + FOOTER
    rep = one(ws, write(tmp_path, "dups.csv", text))
    assert rep.loaded == 3 and rep.rejected == {"duplicate_row": 1, "resent_row": 1}


def test_overlapping_dumps_totals_explained(ws, tmp_path, capsys):
    a = write(tmp_path, "a.csv", airtel_records())
    b = write(tmp_path, "b.csv", airtel_records().replace("No Records", "").replace("01-Apr-2026", "02-Apr-2026"))
    ingest(ws, a, b)
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "dumps")
    assert code == 0
    assert out.splitlines()[-1] == ("2 dump(s), 24 sessions (12 distinct: 12 delivered again by an overlapping dump, "
                                    "an operator re-send; the analysis commands count them once, as the "
                                    "first-ingested dump's copy)")
    assert f"{'':16}  12 of its sessions delivered before by another dump (a re-send: that dump's copy is kept)" \
        in out.splitlines()
    assert len(ws.sessions()) == 12


# ---------------------------------------------------------------- 5. every delivery format

def _rar_block(htype: int, flags: int, body: bytes, data: bytes = b"") -> bytes:
    head = struct.pack("<BHH", htype, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head + data


def stored_rar(members: list[tuple[str, bytes]], password: bool = False, method: int = 0x30) -> bytes:
    """A RAR 4 archive with stored (uncompressed) members, written by hand: no RAR writer
    is free software, and rarfile reads stored members without an extractor program."""
    out = b"Rar!\x1a\x07\x00" + _rar_block(0x73, 0, struct.pack("<HI", 0, 0))
    for name, data in members:
        nb = name.encode()
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data), 0x5A210000, 20, method,
                           len(nb), 0x20) + nb
        out += _rar_block(0x74, 0x8000 | (0x0004 if password else 0), body, data)
    return out + _rar_block(0x7B, 0x4000, b"")


def test_every_delivery_format(ws, tmp_path, capsys):
    import xlwt

    airtel = airtel_records()
    d = tmp_path / "delivery"
    with zipfile.ZipFile(write(d, "case.zip", b""), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("airtel.csv", airtel)
        z.writestr("__MACOSX/._airtel.csv", b"\x00\x05\x16\x07")
        z.writestr("Thumbs.db", b"\x00")
        z.writestr("locked.csv", airtel)
    raw = bytearray((d / "case.zip").read_bytes())
    # Mark the last member as encrypted in both headers (local and central).
    for pos in (raw.find(b"PK\x03\x04", raw.find(b"locked.csv") - 40), raw.rfind(b"PK\x01\x02")):
        flag_at = pos + (6 if raw[pos + 2] == 3 else 8)
        raw[flag_at] |= 1
    (d / "case.zip").write_bytes(bytes(raw))
    sub = airtel.replace("7873019433", "7873019434")
    with py7zr.SevenZipFile(d / "b.7z", "w") as z:
        z.writestr(sub.encode(), "b.csv")
    write(d, "c.rar", stored_rar([("c.csv", airtel.replace("7873019433", "7873019435").encode()),
                                  ("desktop.ini", b"[x]")]))
    write(d, "locked.rar", stored_rar([("x.csv", airtel.encode())], password=True))
    write(d, "e.csv.gz", gzip.compress(airtel.replace("7873019433", "7873019436").encode()))
    write(d, "f.xls", airtel.replace("7873019433", "7873019437"))  # CSV under an .xls name
    rows = [line.split(",") for line in airtel.replace("7873019433", "7873019438").splitlines()]
    html = "<html><body><table>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    write(d, "g.xls", html + "</table></body></html>")
    wb = xlwt.Workbook()
    sheet = wb.add_sheet("IPDR")
    for r, row in enumerate(line.split(",") for line in airtel.replace("7873019433", "7873019439").splitlines()):
        for c, v in enumerate(row):
            sheet.write(r, c, v)
    wb.save(str(d / "h.xls"))
    write(d, "broken.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40)
    code, _, err = run_cli(capsys, "-q", "-w", str(ws.root), "ingest", str(d))
    assert code == 0
    reports = {Path(r.name.split("!")[0]).name + ("!" + r.name.split("!")[1] if "!" in r.name else ""): r
               for r in ws.reports()}
    assert sorted(reports) == ["b.7z!b.csv", "c.rar!c.csv", "case.zip!airtel.csv", "e.csv.gz", "f.xls", "g.xls",
                               "h.xls"]
    assert {r.loaded for r in reports.values()} == {12}
    assert {m for r in reports.values() for m in r.msisdns} == {f"91787301943{k}" for k in (3, 4, 5, 6, 7, 8, 9)}
    lines = err.splitlines()
    assert "  skipped: macOS metadata folder __MACOSX/" in lines
    assert "  skipped: system file Thumbs.db" in lines and "  skipped: system file desktop.ini" in lines
    assert lines.count("  refused (password): password-protected archive member (not read; ask for it without "
                       "a password)") == 2
    assert any(line.startswith("  refused (corrupt): not a readable .7z archive") for line in lines)
    _, out, _ = run_cli(capsys, "-w", str(ws.root), "ingest", str(d))  # again: all unchanged, junk still skipped
    total = out.splitlines()[-1]
    assert total.startswith("0 dump(s) loaded (0 sessions, 0 rejected rows), 7 unchanged, 3 refused, 3 skipped (not "
                            "dumps), 0 failed"), total


def test_corrupt_member_refused_batch_goes_on(ws, tmp_path):
    airtel = airtel_records()
    p = tmp_path / "c.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.csv", airtel)
        z.writestr("b.csv", airtel.replace("7873019433", "7873019434"))
    raw = bytearray(p.read_bytes())
    at = raw.find(b"b.csv") + 5 + 10
    raw[at:at + 16] = b"\xff" * 16
    p.write_bytes(bytes(raw))
    res = ingest(ws, p)
    assert [r.loaded for r in res.loaded] == [12]
    assert [(Path(r.name).name, r.kind) for r in res.refused] == [("c.zip!b.csv", "corrupt")]


def test_rar_without_extractor_refused_in_one_line(monkeypatch, tmp_path):
    import rarfile

    from cdrnet.loader.sources import iter_sources

    def no_tool(*_a, **_k):
        raise rarfile.RarCannotExec("no tool")

    # Method 0x33 ("normal" compression) needs an extractor program.
    p = write(tmp_path, "z.rar", stored_rar([("x.csv", b"a,b\n")], method=0x33))
    monkeypatch.setattr(rarfile, "tool_setup", no_tool)
    got = list(iter_sources([p]))
    assert [(type(g).__name__, getattr(g, "kind", "")) for g in got] == [("Refused", "no extractor")]
    assert "install one: apt-get install unar" in got[0].reason


# ---------------------------------------------------------------- 6. layouts and detection

DOT_HEADER = ("Landline/MSISDN/MDN/Leased Circuit ID for Internet Access,User Id for internet Access based on "
              "authentication,Source IP Address,Source Port,Translated IP Address,Translated Port,"
              "Destination IP Address,Destination Port,Static/Dynamic IP Address Allocation,"
              "IST Start Time of Public IP address allocation (hh:mm:ss),"
              "IST End Time of Public IP address allocation (hh:mm:ss),"
              "Start Date of Public IP Address allocation (dd/mm/yyyy),"
              "End Date of Public IP address allocation (dd/mm/yyyy),"
              "Source MAC-ID Address/Other device Identification number,IMSI,PGW IP address,Access Point Name,"
              "First CELL ID,Last CELL ID,TIME1 (dd/MM/yyyy HH:mm:ss),Session Duration (Seconds),"
              "Data Volume Up Link,Data Volume Down Link,Roaming Circle Indicator,Roaming Circle,SIM Type")


def dot_row(k: int) -> str:
    return (f"919800000001,user,10.1.1.1,4000{k},49.36.1.{k},600{k},91.108.4.{k},443,Dynamic,10:00:00,10:30:00,"
            f"02/03/2026,02/03/2026,356047769591480,404860040053689,1.1.1.1,jionet,404-86-1-{k},404-86-1-9,"
            f"02/03/2026 10:0{k}:15,12{k},100,200,HOME,Gujarat,Prepaid")


def test_dot_uniform_ipdr_is_not_jio(ws, tmp_path):
    rep = one(ws, write(tmp_path, "dot.csv", DOT_HEADER + "\n" + "\n".join(dot_row(k) for k in range(3)) + "\n"))
    assert rep.layout == "dot_ipdr" and rep.loaded == 3 and rep.volume_bytes == 900
    f = ws.sessions().sort_values("source_line")
    assert f["public_ip"].tolist() == ["49.36.1.0", "49.36.1.1", "49.36.1.2"]
    assert f["cell_id"].tolist() == ["404-86-1-" + str(k) for k in range(3)]
    assert (f["end_utc"] - f["start_utc"]).dt.total_seconds().tolist() == [120, 121, 122]
    assert set(f["app"]) == {"Telegram"}


def test_dot_short_names_with_caf_columns_and_position(ws, tmp_path):
    header = ("Name of Person/Organization,Address,Contact No.,Alternate Contact No.,E-mail Address,"
              "Landline/MSISDN/MDN/Leased Circuit ID for Internet Access,Source IP Address,Source Port,"
              "Translated IP Address,Translated Port,Destination IP Address,Destination Port,Start Date,Start Time,"
              "End Date,End Time,IMEI,IMSI,CGI ID,TIME1,Session Duration,Data Volume Up Link,Data Volume Down Link,"
              "Latitude,Longitude")
    rows = [f"A Person,Somewhere,98000,,a@b,919800000002,10.0.0.1,100{k},49.36.0.1,200{k},157.240.0.1,5222,"
            f"02/03/2026,10:00:00,02/03/2026,10:30:00,356047769591480,404860040053689,404-86-77-1,"
            f"02/03/2026 10:1{k}:00,60,10,20,21.1702,72.8311" for k in range(2)]
    rep = one(ws, write(tmp_path, "dot_short.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert rep.layout == "dot_ipdr" and rep.loaded == 2
    f = ws.sessions()
    assert f["msisdn"].unique().tolist() == ["919800000002"] and set(f["app"]) == {"WhatsApp"}
    assert f["lat"].tolist() == [21.1702, 21.1702] and f["lon"].tolist() == [72.8311, 72.8311]


def test_airtel_dynamic_ipv4_ipv6_destinations(ws, tmp_path):
    header = ("MSISDN_userID,IMEI,IMSI,Downlink_Vol,Uplink_Vol,Event_Start_Time,Session_Start_Time,Session_End_Time,"
              "Pre_Post,Roaming_Circle,ICR_Operator_Name,Home_Circle,Source_Public_IPv4,Source_Public_IPv6,"
              "Source_Public_Port,Destination_IP4,Destination_IP6,Destination_Port,Source_Private_IPV4,"
              "Source_Handset_Port,Duration,Charging_ID,Access_Point_Name,PACO_GW_IP,2g/4g/5g,CGI Latitude,"
              "CGI Longitude,CGI")
    rows = ["7873019433,3560477695914800,404860040053689,5000,500,05-Oct-2025 08:14:21,05-Oct-2025 08:00:00,"
            "05-Oct-2025 08:30:00,Post,GUJARAT,,GUJARAT,49.36.1.1,,6000,157.240.1.1,,5222,10.0.0.1,4000,30,77,"
            "airtelgprs.com,1.1.1.1,4G,23.06,72.08,404-98-8149-59160",
            "7873019433,3560477695914800,404860040053689,5000,500,05-Oct-2025 08:16:02,05-Oct-2025 08:00:00,"
            "05-Oct-2025 08:30:00,Post,GUJARAT,,GUJARAT,,2401:4900::5,6001,,2001:b28:f23d:f001::a,443,10.0.0.1,4001,"
            "30,77,airtelgprs.com,1.1.1.1,4G,23.06,72.08,404-98-8149-59160"]
    rep = one(ws, write(tmp_path, "dyn.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert rep.layout == "airtel_dynamic" and rep.loaded == 2 and rep.volume_bytes == 5500
    f = ws.sessions().sort_values("source_line")
    assert f["dest_ip"].tolist() == ["157.240.1.1", "2001:b28:f23d:f001::a"]
    assert f["public_ip"].tolist() == ["49.36.1.1", "2401:4900::5"]
    assert f["app"].tolist() == ["WhatsApp", "Telegram"]
    assert f["start_local"].tolist() == ["05-Oct-2025 08:14:21", "05-Oct-2025 08:16:02"]  # the flow's own start


def test_airtel_gprs_report(ws, tmp_path):
    header = (" Mobile No.,IP Address,IMEI,IMSI,Downlink Vol,Uplink Vol,Total Vol,Session Start Time,Session End Time,"
              " Pre/Post,Roaming Circle,2g/4g/5g,ICR Operator Name,Home Circle,IP, CGI Latitude, CGI Longitude, CGI")
    rows = [f"7873019433,10.0.0.1,3560477695914800,404860040053689,{1000 * k},{100 * k},{1100 * k},"
            f"05-Oct-2025 0{k}:00:00,05-Oct-2025 0{k}:30:00,Post,GUJARAT,4G,,GUJARAT,10.0.0.1,23.06,72.08,"
            f"404-98-8149-5916{k}" for k in range(1, 4)]
    rep = one(ws, write(tmp_path, "gprs.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert rep.layout == "airtel_gprs" and rep.loaded == 3 and not rep.has_destination
    assert rep.volume_bytes == 1100 * 6
    assert ws.sessions()["cell_id"].tolist() == ["404-98-8149-5916" + str(k) for k in range(1, 4)]


def test_vi_voice_cdr_loads_as_call_events_not_as_a_gprs_report(ws, tmp_path, capsys):
    header = ("Target /A PARTY NUMBER,CALL_TYPE,Type of Connection,B PARTY NUMBER,LRN- B Party Number,"
              "Translation of LRN,Call date,Call Initiation Time,Call Duration,First BTS Location,First Cell Global Id,"
              "Last BTS Location,Last Cell Global Id,SMS Centre Number,Service Type,IMEI,IMSI,Call Forwarding Number,"
              "Roaming Network/Circle,MSC ID,In TG ,Out TG ,IP Address ,Port No")
    row = ("917873019433,MOC,Prepaid,919800000001,,,02/03/2026,10:00:00,30,SITE,404-20-1-1,SITE,404-20-1-1,,VOICE,"
           "356047769591480,404860040053689,,GUJ,MSC1,,,,,")
    p = write(tmp_path, "vi_cdr.csv",
              "VODAFONE IDEA CALL DATA RECORDS\nReport Type :- MSISDN\n\n" + header + "\n" + row + "\n")
    code, out, err = run_cli(capsys, "-w", str(ws.root), "ingest", "--date-order", "dmy", str(p))
    assert code == 0, err
    assert "  sha256 " in out and "layout vi_cdr" in out
    assert "1 dump(s) loaded (0 sessions, 1 call events, 0 rejected rows)" in out
    assert ws.calls()[["msisdn", "b_party", "direction"]].values.tolist() == [["917873019433", "919800000001", "out"]]


def test_mapping_file_alternatives_and_prefix_only(ws, tmp_path):
    mapping = write(tmp_path, "m.toml", """
name = "ops_export"
[fields]
msisdn = "Subscriber"
start = "Start"
dest_ip = ["Destination_IP4", "Destination_IP6"]
""")
    layout = load_layout_file(mapping)
    assert layout.has_destination and layout.alternatives["dest_ip"] == ("Destination_IP4", "Destination_IP6")
    text = ("Subscriber,Start,Destination_IP4,Destination_IP6\n"
            "919800000001,14/03/2026 10:00:00,91.108.4.1,\n"
            "919800000001,14/03/2026 10:01:00,,2a03:2880:f003::1\n"
            "919800000001,14/03/2026 10:02:00,8.8.8.8,\n")
    res = ingest(ws, write(tmp_path, "ops.csv", text), layouts=[layout, *builtin_layouts()])
    assert [r.loaded for r in res.loaded] == [3]
    f = ws.sessions().sort_values("source_line")
    assert f["app"].tolist() == ["Telegram", "Meta (WhatsApp/Facebook/Instagram)", ""]
    assert f["dest_port"].isna().all()


def test_every_layout_requires_its_defining_columns():
    by_name = {la.name: la for la in builtin_layouts()}
    assert by_name["vi_gprs"].required_any == ("apn", "uplink", "downlink")
    assert {"src_ip", "public_ip"} <= set(by_name["jio"].required)
    assert "public_ip" in by_name["dot_ipdr"].required


def test_trends_says_how_many_possible_sessions_and_opts_in(ws, tmp_path, capsys):
    one(ws, write(tmp_path, "airtel.csv", airtel_records()))
    out_dir = tmp_path / "t"
    code, out, err = run_cli(capsys, "-w", str(ws.root), "trends", "917873019433", "--out", str(out_dir))
    assert code == 0, err
    assert ("3 session(s) labelled 'XMPP (WhatsApp possible)' (low confidence: port alone, outside the app's known "
            "ranges) are left out; --possible-apps includes them") in out.splitlines()
    listing = pd.read_csv(next(out_dir.glob("trends_917873019433_WhatsApp_connections.csv")))
    assert len(listing) == 6 and "XMPP (WhatsApp possible)" not in set(listing["application"])
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "trends", "917873019433", "--out", str(out_dir),
                           "--possible-apps")
    assert code == 0
    assert "3 session(s) labelled 'XMPP (WhatsApp possible)' (low confidence) are included (--possible-apps)" in out
    listing = pd.read_csv(next(out_dir.glob("trends_917873019433_WhatsApp_connections.csv")))
    assert len(listing) == 9
