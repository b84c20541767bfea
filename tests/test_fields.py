"""Identifiers, times and addresses: the quirks of real dumps."""

from __future__ import annotations

import pandas as pd
import pytest

from cdrnet.loader.identifiers import clean_text, imei14, normalise_msisdn, to_int
from cdrnet.loader.textblocks import sniff_encoding
from cdrnet.synth.writers import PAPER_HEADER
from tests.conftest import ingest


def paper_file(tmp_path, rows: list[list[str]], name: str = "p.csv", delimiter: str = ",", encoding: str = "utf-8"):
    lines = [delimiter.join(PAPER_HEADER)] + [delimiter.join(r) for r in rows]
    p = tmp_path / name
    p.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return p


def row(msisdn="919876543210", date="17/04/2023", start="10:00:00", end="10:05:00", end_date=None,
        dest_ip="157.240.1.52", dest_port="443", imei="353456012345670", imsi="404701234567890"):
    return ["10.0.0.1", "40000", "100.64.0.1", "50000", dest_ip, dest_port, msisdn, imsi, date, start,
            end_date or date, end, imei, "404-70-1-1", "100", "200", "300", "4G"]


@pytest.mark.parametrize(
    "raw,expected",
    [("+919876543210", "919876543210"), ("00919876543210", "919876543210"), ("09876543210", "919876543210"),
     ("9876543210", "919876543210"), ("919876543210", "919876543210"), ("91 98765-43210", "919876543210")],
)
def test_msisdn_forms(raw, expected):
    out, reason = normalise_msisdn(clean_text(pd.Series([raw])))
    assert out.iloc[0] == expected and pd.isna(reason.iloc[0])


@pytest.mark.parametrize("raw,reason", [("9.18E+11", "msisdn_precision_lost"), ("9.18e11", "msisdn_precision_lost"),
                                        ("", "missing_msisdn"), ("abc", "invalid_msisdn"), ("12", "invalid_msisdn")])
def test_msisdn_rejections(raw, reason):
    _, r = normalise_msisdn(clean_text(pd.Series([raw])))
    assert r.iloc[0] == reason


def test_excel_wrapping_and_apostrophe_are_removed():
    assert (clean_text(pd.Series(['="919876543210"', "'919876543210", ' "x" '])).tolist()
            == ["919876543210", "919876543210", "x"])


def test_imei14_from_imeisv_and_imei():
    assert (imei14(pd.Series(["3534560123456701", "353456012345678", ""])).tolist()
            == ["35345601234567", "35345601234567", ""])


def test_rejects_with_reasons_and_lines(ws, tmp_path):
    rows = [
        row(),                                  # line 2 ok
        row(msisdn="9.18E+11"),                 # 3
        row(date="31/02/2023"),                 # 4 no such date
        row(start="25:61:00"),                  # 5
        row(dest_port="70000"),                 # 6
        row(dest_ip="300.1.2.3"),               # 7
        row(start="23:50:00", end="00:10:00"),  # 8 rolls over midnight
        row(end_date="16/04/2023"),             # 9 end a day before start
        row()[:-3],                             # 10 too few fields
        row(),                                  # 11 duplicate of line 2
        row(msisdn='="+919876543211"'),         # 12 ok after unwrapping
        row(imei="3.5E+15", start="13:00:00", end="13:01:00"),  # 13 ok, IMEI blanked
    ]
    p = paper_file(tmp_path, rows)
    rep = ingest(ws, p).loaded[0]
    assert rep.lines_read == 13
    assert rep.loaded == 4 and rep.nondata == 1
    assert rep.rejected == {"msisdn_precision_lost": 1, "invalid_time": 2, "invalid_port": 1, "invalid_ip": 1,
                            "end_before_start": 1, "wrong_field_count": 1, "duplicate_row": 1}
    assert rep.end_rolled_over == 1 and rep.imei_precision_lost == 1
    rej = pd.read_csv(ws.root / "rejects.csv", dtype=str)
    assert dict(zip(rej["line"].astype(int), rej["reason"], strict=True)) == {
        3: "msisdn_precision_lost", 4: "invalid_time", 5: "invalid_time", 6: "invalid_port", 7: "invalid_ip",
        9: "end_before_start", 10: "wrong_field_count", 11: "duplicate_row"}
    assert (rej["sha256"] == rep.sha256).all()
    assert rej.loc[rej["line"] == "3", "raw"].iloc[0].split(",")[6] == "9.18E+11"
    got = ws.sessions().set_index("source_line")
    assert got.loc[8, "end_utc"] - got.loc[8, "start_utc"] == pd.Timedelta(minutes=20)
    assert got.loc[12, "msisdn"] == "919876543211"


def test_ipv6_destinations_are_classified(ws, tmp_path):
    rows = [row(dest_ip="2001:b28:f23d:f001::a", dest_port="443"),
            row(dest_ip="2a03:2880:f00c:0:0:0:0:1", dest_port="5222", start="11:00:00"),
            row(dest_ip="::ffff:91.108.4.10", dest_port="443", start="12:00:00")]
    ingest(ws, paper_file(tmp_path, rows))
    got = ws.sessions().sort_values("source_line")
    assert got["app"].tolist() == ["Telegram", "WhatsApp", "Telegram"]
    assert got["dest_ip"].tolist() == ["2001:b28:f23d:f001::a", "2a03:2880:f00c::1", "91.108.4.10"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_encodings(ws, tmp_path, encoding):
    rows = [row(), row(start="11:00:00")]
    p = paper_file(tmp_path, rows, encoding=encoding)
    if encoding == "cp1252":
        p.write_bytes(p.read_bytes().replace(b"4G", b"4G\xe9", 1))
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 2 and rep.accounted


def test_sniff_encoding():
    assert sniff_encoding("a,b\n".encode("utf-16-le")) == "utf-16-le"
    assert sniff_encoding(b"\xef\xbb\xbfa,b") == "utf-8-sig"
    assert sniff_encoding(b"caf\xe9,b\n") == "cp1252"


def test_nul_bytes_reject_only_their_line(ws, tmp_path):
    p = paper_file(tmp_path, [row(), row(start="11:00:00"), row(start="12:00:00")])
    data = p.read_bytes().split(b"\n")
    data[2] = data[2][:5] + b"\x00\x00" + data[2][5:]
    p.write_bytes(b"\n".join(data))
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 2 and rep.rejected == {"nul_byte": 1} and rep.accounted


def test_repeated_header_and_footer_are_non_data(ws, tmp_path):
    p = paper_file(tmp_path, [row(), PAPER_HEADER, row(start="11:00:00")])
    p.write_text(p.read_text() + "\nThis is System generated report\n,,,,\n")
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 2 and rep.nondata == 5 and rep.rejected == {} and rep.accounted


def test_daylight_saving_gap_and_overlap_never_give_an_empty_time():
    """Europe/Berlin: 02:30 on 31 March 2024 does not exist (moved forward to 03:00 CEST);
    02:30 on 27 October 2024 happens twice (read as the first, daylight-time one)."""
    from cdrnet.loader.timeparse import to_utc

    local = pd.Series(pd.to_datetime(["2024-03-31 02:30:00", "2024-10-27 02:30:00", "2024-06-01 12:00:00"]))
    got = to_utc(local, "Europe/Berlin")
    assert got.notna().all()
    want = ["2024-03-31 01:00:00", "2024-10-27 00:30:00", "2024-06-01 10:00:00"]
    assert got.tolist() == [pd.Timestamp(t, tz="UTC") for t in want]


def test_a_hexadecimal_port_is_unreadable_not_a_number(ws, tmp_path):
    """Arrow's integer cast reads "0x1F" as 31; no layout writes hexadecimal ports, and the general
    path (pandas) refuses them, so such a row is rejected whichever path its block takes."""
    assert to_int(pd.Series(["0x1F", "443", "", "0X10"], dtype="string"), 0, 65535)[1].tolist() == [
        True, False, False, True]
    rows = [row(), row(dest_port="0x1F", start="11:00:00", end="11:01:00")]
    rep = ingest(ws, paper_file(tmp_path, rows)).loaded[0]
    assert rep.loaded == 1 and rep.rejected == {"invalid_port": 1}
