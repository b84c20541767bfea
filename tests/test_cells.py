"""Places (issue 18, item 5): one canonical cell key for every form, cell-site lists read with
exact accounting, positions by precedence, and the ``cdrnet cells`` commands."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.analysis.places import case_cells, coverage, place_cells, presence, sightings
from cdrnet.loader.cells import canonical_cell, cell_family, cgi_key, resolve_digits, stated_positions
from cdrnet.loader.cellsites import parse_cell_list
from cdrnet.loader.sources import iter_sources
from cdrnet.synth.writers import render
from tests.conftest import SIM_ORDER, ingest, make_sessions, run_cli

SEPARATORS = ["-", " ", "_", "/", ":", ".", " - "]


def mnc_width(mcc: str, mnc: str) -> int:
    """What the hex and fixed-width forms assume (loader.cells._mnc_digits)."""
    return 3 if (mcc + mnc).startswith("4058") else 2


@st.composite
def cells(draw, with_lac: bool | None = None) -> tuple[str, str, int | None, int]:
    mcc = str(draw(st.integers(100, 999)))
    mnc = draw(st.sampled_from([f"{draw(st.integers(0, 99)):02d}", f"{draw(st.integers(0, 999)):03d}"]))
    if mcc == "404":  # India's 404 networks all have 2-digit MNCs (loader.cells.TWO_DIGIT_MNC_MCCS)
        mnc = mnc[-2:]
    lac = None if with_lac is False else draw(st.integers(1, 65535))
    if with_lac is None and draw(st.booleans()):
        lac = None
    ci = draw(st.integers(0, 268_435_455))
    return mcc, mnc, lac, ci


@st.composite
def renderings(draw, cell: tuple[str, str, int | None, int]) -> list[tuple[str, bool]]:
    """Ways operators write one cell: (text, whether the layout declares hex ECIs)."""
    mcc, mnc, lac, ci = cell
    parts = [p for p in (lac, ci) if p is not None]
    out = []
    for _ in range(3):
        sep = draw(st.sampled_from(SEPARATORS))
        padded = [str(p).zfill(len(str(p)) + draw(st.integers(0, 3))) for p in parts]
        out.append((sep.join([mcc, mnc, *padded]), False))
    if lac is not None and lac <= 99999 and ci <= 99999 and len(mnc) == mnc_width(mcc, mnc):
        out.append((f"{mcc}{mnc}{lac:05d}{ci:05d}", False))  # fixed width, as the Vi sample writes it
    if lac is None:
        for width in (7, 8):
            text = f"{mcc}{mnc}{ci:0{width}x}"
            if len(f"{ci:x}") > width:
                continue
            text = text.upper() if draw(st.booleans()) else text
            if len(mnc) == 3:
                out.append((text, True))  # Jio's layout: always hex, even without a letter
            if len(mnc) == mnc_width(mcc, mnc) and any(c in "abcdef" for c in text.lower()[3 + len(mnc):]):
                out.append((text, False))  # any layout: hex recognised by its letters
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_rendering_of_one_cell_gives_one_key(data):
    cell = data.draw(cells())
    key = cgi_key(*cell)
    for text, hex_eci in data.draw(renderings(cell)):
        assert canonical_cell(text, hex_eci) == key, text
        assert canonical_cell(f"  '{text}' ", hex_eci) == key


def identity(cell: tuple[str, str, int | None, int]) -> tuple:
    """What makes a cell itself: an LTE ECI (above 65535, or written without a TAC) is unique in
    its network, so its TAC is no part of it; a GSM/UMTS CI is unique only within its LAC."""
    mcc, mnc, lac, ci = cell
    return (mcc, mnc, None if ci > 65535 else lac, ci)


@st.composite
def neighbours(draw) -> tuple[tuple, tuple]:
    """Two cells that often share MCC, MNC and CI and differ in the TAC/LAC or its absence."""
    a = draw(cells())
    if draw(st.booleans()):
        return a, draw(cells())
    lac = draw(st.sampled_from([None, 1, 7, 65535]))
    return a, (a[0], a[1], lac, a[3])


@settings(max_examples=300, deadline=None)
@given(neighbours(), st.data())
def test_different_cells_never_share_a_key(pair, data):
    a, b = pair
    if identity(a) == identity(b):
        return
    keys_a = {canonical_cell(t, h) for t, h in data.draw(renderings(a))}
    keys_b = {canonical_cell(t, h) for t, h in data.draw(renderings(b))}
    assert not keys_a & keys_b


@settings(max_examples=100, deadline=None)
@given(cells(with_lac=True))
def test_an_lte_cell_with_and_without_its_tac_is_one_family(cell):
    mcc, mnc, lac, ci = cell
    fam = cell_family(pd.Series([cgi_key(mcc, mnc, lac, ci), cgi_key(mcc, mnc, None, ci)], dtype="string"))
    assert fam.nunique() == 1 and fam.iloc[0] == f"{mcc}-{mnc}-{ci}"


@settings(max_examples=300, deadline=None)
@given(neighbours(), st.data())
def test_one_lte_cell_with_any_tac_or_none_gives_one_key(pair, data):
    a, b = pair
    if identity(a) != identity(b):
        return
    keys = {canonical_cell(t, h) for cell in (a, b) for t, h in data.draw(renderings(cell))}
    assert keys == {cgi_key(*a)} == {cgi_key(*b)}


def test_known_forms():
    # An LTE ECI (above 65535) with its TAC, as Airtel writes it, and without: one key.
    assert canonical_cell("404-70-166-232169") == canonical_cell("404 70 0166 0232169") == "404-70-232169"
    assert canonical_cell("404-70-9-232169") == canonical_cell("40407000038ae9", hex_eci=True) == "404-70-232169"
    assert canonical_cell("404-70-166-28492") == "404-70-166-28492"  # a 16-bit CI may be GSM: LAC kept
    # Jio: MCC 405, MNC 874, LTE cell identity 0x0000e718 = 59160 (eNB 231 x 256 + sector 24); no TAC.
    assert canonical_cell("4058740000e718", hex_eci=True) == canonical_cell("4058740000E718") == "405-874-59160"
    assert canonical_cell("40585703AD319") == f"405-857-{15059 * 256 + 25}"
    assert canonical_cell("404200000059160") == "404-20-0-59160"  # the Vi sample's fixed-width form
    assert canonical_cell("Sector 1  new delhi") == "SECTOR 1 NEW DELHI"
    assert canonical_cell("") == canonical_cell("  ") == ""


def test_digits_that_cannot_be_cut_join_only_one_listed_cell():
    # 40470166232169 is 404-70-166-232169 or 404-70-1662-32169: never guessed.
    assert canonical_cell("40470166232169") == "40470166232169"
    keys = pd.Series(["40470166232169", "40470166232169", "4047016659160"], dtype="string")
    one = pd.Series(["404-70-232169", "404-70-166-59160"], dtype="string")  # canonical: the ECI's TAC dropped
    assert resolve_digits(keys, one).tolist() == ["404-70-232169", "404-70-232169", "404-70-166-59160"]
    two = pd.Series(["404-70-232169", "404-70-1662-32169"], dtype="string")
    assert resolve_digits(keys[:1], two).tolist() == ["40470166232169"]
    # The listed LTE key carries no TAC: the digits' TAC is found between MNC and ECI, once.
    assert resolve_digits(keys[:1], pd.Series(["404-70-232169"], dtype="string")).tolist() == ["404-70-232169"]
    assert resolve_digits(keys[:1], pd.Series(["404-70-232169", "404-701-66232169"], dtype="string")).tolist() == [
        "40470166232169"]


def test_positions_stated_by_operators():
    lat, lon = stated_positions(
        pd.Series(["23.06", "", "", "0", ""]), pd.Series(["72.087", "", "", "0", ""]),
        pd.Series(["", "21.29669/72.8915", "", "", "95.1/72.1"]),  # Airtel CDR First CGI Lat/Long
        pd.Series(["", "", "SALT LAKE SEC V; Lat-22.39711; Long-88.43938", "", ""]))  # BSNL location text
    assert lat.tolist()[:3] == [23.06, 21.29669, 22.39711] and lon.tolist()[:3] == [72.087, 72.8915, 88.43938]
    assert np.isnan(lat.iloc[3]) and np.isnan(lat.iloc[4])  # 0/0 placeholder; latitude out of range


# ------------------------------------------------------------------ cell-site lists

CHART_HEADER = ("CGI (Code in Order of CMCC/MNC/LAC/CI)^Service provider^Zone/ Circle^Town^Site Name^Site Address^"
                "Land Mark^Latitude^Longitude^Azimuth angle^Status (In-service/De-commissioned)^Status Change Date")


def chart_text() -> str:
    return "\n".join([
        "CELL SITE LIST OF AIRTEL GUJARAT",  # 1 preamble
        "",  # 2
        CHART_HEADER,  # 3
        "404-70-0166-28492^AIRTEL^GUJARAT^AHMEDABAD^SITE A^Road 1, Ahmedabad^Temple^23.0225^72.5714^120^In-service^",
        "404-70-166-10000^AIRTEL^GUJARAT^AHMEDABAD^SITE B^Road 2^^23.03^72.58^240^De-commissioned^01-01-2024",
        "",  # 6 blank
        "a stray note",  # 7 wrong field count
        "404-70-166-10037^AIRTEL^GUJARAT^AHMEDABAD^SITE C^Road 3^^0^0^0^In-service^",  # 8 0/0: no position
        "nonsense^AIRTEL^GUJARAT^AHMEDABAD^SITE D^Road 4^^23.1^72.6^0^In-service^",  # 9 no cell id
        "^^^^^^^^^^^",  # 10 padding
        "Total records : 4",  # 11 footer
    ]) + "\n"


def parse(path: Path):
    return parse_cell_list(next(iter_sources([path])))


def test_cgi_chart_every_line_accounted(tmp_path):
    p = tmp_path / "chart.csv"
    p.write_text(chart_text())
    cl = parse(p)
    r = cl.report
    assert (r.kind, r.lines_read, r.loaded, r.rejected, r.nondata, r.cells) == (
        "cgi_chart", 11, 2, {"wrong_field_count": 1, "invalid_position": 1, "invalid_cell_id": 1}, 6, 2)
    assert r.accounted
    cols = ["cell_id", "cell_raw", "lat", "lon", "site_name", "status", "source", "source_line"]
    assert cl.sites[cols].values.tolist() == [
        ["404-70-166-28492", "404-70-0166-28492", 23.0225, 72.5714, "SITE A", "In-service", "chart", 4],
        ["404-70-166-10000", "404-70-166-10000", 23.03, 72.58, "SITE B", "De-commissioned", "chart", 5]]
    assert cl.rejects[["line", "reason"]].values.tolist() == [
        [7, "wrong_field_count"], [8, "invalid_position"], [9, "invalid_cell_id"]]
    assert cl.rejects["raw"].iloc[0] == "a stray note"
    assert r.summary() == (f"{p}: cgi chart: 11 lines = 2 loaded + 3 rejected (invalid_cell_id 1, "
                           "invalid_position 1, wrong_field_count 1) + 6 non-data; 2 distinct cell(s)")


def test_chart_with_parts_in_columns_and_enb_form(tmp_path):
    p = tmp_path / "parts.csv"
    p.write_text("MCC,MNC,LAC,CI,Site Name,Latitude,Longitude\n404,70,0166,028492,S1,23.1,72.1\n"
                 "405,874,,59160,S2,23.2,72.2\n")
    assert parse(p).sites["cell_id"].tolist() == ["404-70-166-28492", "405-874-59160"]
    q = tmp_path / "enb.csv"
    q.write_text("MCC,MNC,eNodeB ID,Sector ID,Latitude,Longitude\n405,874,231,24,23.3,72.3\n")
    assert parse(q).sites["cell_id"].tolist() == ["405-874-59160"]  # 231 x 256 + 24


def test_enb_ids_too_long_or_sectors_past_255_are_invalid_cell_ids(tmp_path):
    """An eNB id of 23 digits overflowed the int64 cast: every such row got one shared key
    ``405-874--9223372036854775808``; a sector of 256 or more lands on the next eNB's cells."""
    q = tmp_path / "enb.csv"
    q.write_text("MCC,MNC,eNodeB ID,Sector ID,Latitude,Longitude\n405,874,231,24,23.3,72.3\n"
                 "405,874,99999999999999999999999,24,23.3,72.3\n405,874,36028797018963968,1,23.3,72.3\n"
                 "405,874,231,256,23.3,72.3\n405,874,4294967295,255,23.3,72.3\n")
    cl = parse(q)
    assert cl.sites["cell_id"].tolist() == ["405-874-59160", f"405-874-{4294967295 * 256 + 255}"]
    assert cl.rejects[["line", "reason"]].values.tolist() == [[3, "invalid_cell_id"], [4, "invalid_cell_id"],
                                                              [5, "invalid_cell_id"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text("0123456789", min_size=1, max_size=25), st.text("0123456789", min_size=1,
                                                                                   max_size=5)),
                min_size=1, max_size=8))
def test_enb_keys_are_exact_or_invalid(tmp_path_factory, rows):
    """Every eNB/sector row gives eNB x 256 + sector exactly (eNB < 2**32, sector < 256) or is an
    invalid cell id: never a rounded or wrapped-around key."""
    q = tmp_path_factory.mktemp("enb") / "enb.csv"
    q.write_text("MCC,MNC,eNodeB ID,Sector ID,Latitude,Longitude\n"
                 + "".join(f"405,874,{e},{c},23.3,72.3\n" for e, c in rows))
    cl = parse(q)
    want = [f"405-874-{int(e) * 256 + int(c)}" for e, c in rows if int(e) < 2**32 and int(c) < 256
            and len(e) <= 10 and len(c) <= 3]
    assert cl.sites["cell_id"].tolist() == want
    assert cl.report.accounted and cl.report.rejected_total == len(rows) - len(want)


OCID_HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"


def test_opencellid_with_and_without_header_and_gzipped(tmp_path):
    rows = ["LTE,405,874,7,59160,0,72.58,23.03,1000,12,1,1500000000,1600000000,0",
            "GSM,404,70,166,10074,0,72.59,23.04,500,3,1,1500000000,1600000000,0",
            "LTE,405,874,7,x,0,72.58,23.03,1000,12,1,1500000000,1600000000,0",
            "UMTS,404,5,9,123,0,181.0,23.0,10,1,1,0,0,0"]
    a = tmp_path / "cell_towers.csv"
    a.write_text(OCID_HEADER + "\n" + "\n".join(rows) + "\n")
    b = tmp_path / "404.csv.gz"
    b.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    for path, lines, nondata in ((a, 5, 1), (b, 4, 0)):
        cl = parse(path)
        r = cl.report
        assert (r.kind, r.lines_read, r.loaded, r.rejected, r.nondata) == (
            "opencellid", lines, 2, {"invalid_cell_id": 1, "invalid_position": 1}, nondata)
        # The LTE row's TAC is dropped (a Jio id has none); the GSM row keeps its LAC.
        assert cl.sites["cell_id"].tolist() == ["405-874-59160", "404-70-166-10074"]
        assert cl.sites["radio"].tolist() == ["LTE", "GSM"] and cl.sites["range_m"].tolist() == [1000, 500]


def test_opencellid_numbers_beyond_int64_or_fractional_are_rejected(tmp_path):
    """``inf``/``1e400``/``1e30`` passed the range check and the int64 cast gave them one shared bogus key
    (``404-70--9223372036854775808-1``); ``7.5`` was cut to 7. They are invalid cell ids."""
    rows = ["GSM,404,70,166,10074,0,72.59,23.04,500,3,1,1500000000,1600000000,0"] + [
        f"GSM,404,70,{area},{cell},0,72.59,23.04,500,3,1,1500000000,1600000000,0"
        for area, cell in (("inf", "1"), ("1e400", "2"), ("7", "-inf"), ("1e30", "3"), ("7.5", "4"), ("nan", "5"))] + [
        "GSM,404,7.5,166,6,0,72.59,23.04,500,3,1,1500000000,1600000000,0"]
    p = tmp_path / "cell_towers.csv"
    p.write_text(OCID_HEADER + "\n" + "\n".join(rows) + "\n")
    cl = parse(p)
    assert cl.sites["cell_id"].tolist() == ["404-70-166-10074"]
    assert (cl.report.loaded, cl.report.rejected) == (1, {"invalid_cell_id": 7})


def test_a_dump_is_no_cell_list(tmp_path):
    from cdrnet.loader.cellsites import sniff_cell_list

    p = tmp_path / "ipdr.csv"
    p.write_text(render(make_sessions(3), "airtel_excel"))  # CGI + latitude/longitude, but an IPDR
    assert not sniff_cell_list(next(iter_sources([p])))


# ------------------------------------------------------------------ positions by precedence

def listed(rows: list[tuple[str, float, float, str]]) -> pd.DataFrame:
    from cdrnet.loader.cellsites import SITE_COLUMNS

    base = pd.DataFrame({c: pd.Series(dtype="string") for c in SITE_COLUMNS})
    body = pd.DataFrame({"cell_id": [r[0] for r in rows], "lat": [r[1] for r in rows], "lon": [r[2] for r in rows],
                         "source": [r[3] for r in rows], "status": "", "site_name": "", "list_sha256": "f" * 64,
                         "source_line": range(2, len(rows) + 2)})
    return pd.concat([base, body], ignore_index=True)


def test_precedence_operator_then_chart_then_opencellid_and_how_each_matched():
    f = pd.DataFrame({
        "session_key": [f"k{i}" for i in range(6)], "msisdn": ["91A", "91A", "91B", "91B", "91C", "91C"],
        "start_utc": pd.to_datetime(["2024-03-01 10:00"] * 6, utc=True),
        "cell_id": ["404-70-1-1", "404-70-1-2", "405-874-59160", "4047016232169", "404-70-1-9", "404-70-1-1"],
        "cell_raw": "", "cell_name": "",
        "lat": [21.0, np.nan, np.nan, np.nan, np.nan, np.nan], "lon": [72.0, np.nan, np.nan, np.nan, np.nan, np.nan]})
    sites = listed([("404-70-1-1", 1.0, 1.0, "chart"),                  # loses to the operator's own position
                    ("404-70-1-2", 2.0, 2.0, "opencellid"), ("404-70-1-2", 3.0, 3.0, "chart"),  # chart wins
                    ("405-874-7-59160", 4.0, 4.0, "opencellid"),        # the Jio cell, listed with its TAC
                    ("404-70-16-232169", 5.0, 5.0, "opencellid")])     # the only cell written 4047016232169
    placed = place_cells(case_cells(sightings(f)), sites).set_index("cell_id")
    got = placed[["lat", "source", "matched_by"]].astype(object).where(placed[["lat", "source", "matched_by"]].notna(),
                                                                       None)
    assert got.to_dict("index") == {
        "404-70-1-1": {"lat": 21.0, "source": "operator", "matched_by": "dump"},
        "404-70-1-2": {"lat": 3.0, "source": "chart", "matched_by": "key"},
        "405-874-59160": {"lat": 4.0, "source": "opencellid", "matched_by": "family"},
        "4047016232169": {"lat": 5.0, "source": "opencellid", "matched_by": "digits"},
        "404-70-1-9": {"lat": None, "source": None, "matched_by": None}}
    assert placed.loc["404-70-1-1", "subscribers"] == 2
    assert coverage(placed.reset_index()) == {"cells": 5, "operator": 1, "chart": 1, "opencellid": 2, "none": 1,
                                              "records": 6, "records_placed": 5}


def test_a_gsm_ci_in_another_lac_is_never_a_match():
    f = pd.DataFrame({"session_key": ["k"], "msisdn": ["91A"], "start_utc": pd.to_datetime(["2024-03-01"], utc=True),
                      "cell_id": ["404-70-1-77"], "cell_raw": "", "cell_name": "", "lat": [np.nan], "lon": [np.nan]})
    placed = place_cells(case_cells(sightings(f)), listed([("404-70-2-77", 1.0, 1.0, "opencellid")]))
    assert placed["source"].isna().all()


def test_call_events_are_seen_at_their_first_and_last_cell():
    sessions = pd.DataFrame({"session_key": ["s1"], "msisdn": ["91A"],
                             "start_utc": pd.to_datetime(["2024-03-01 10:00"], utc=True), "cell_id": ["404-70-1-1"],
                             "cell_raw": ["404-70-1-1"], "cell_name": [""], "lat": [np.nan], "lon": [np.nan]})
    calls = pd.DataFrame({
        "event_key": ["e1", "e2"], "msisdn": ["91A", "91B"],
        "start_utc": pd.to_datetime(["2024-03-01 10:05", "2024-03-01 20:00"], utc=True),
        "end_utc": pd.to_datetime(["2024-03-01 10:15", "2024-03-01 20:01"], utc=True),
        "first_cell": ["404-70-1-1", "404-70-1-2"], "first_cell_raw": ["404-70-1-1", "404-70-1-2"],
        "first_cell_name": ["", "SALT LAKE; Lat-22.39711; Long-88.43938"], "first_lat": [21.29669, 22.39711],
        "first_lon": [72.8915, 88.43938], "last_cell": ["404-70-1-2", "404-70-1-2"],
        "last_cell_raw": ["404-70-1-2", "404-70-1-2"], "last_cell_name": ["", ""], "last_lat": [np.nan, np.nan],
        "last_lon": [np.nan, np.nan]})
    seen = sightings(sessions, calls)
    placed = place_cells(case_cells(seen), listed([])).set_index("cell_id")
    # The call's position from its CDR row (Airtel First CGI Lat/Long) places the cell the session used.
    assert placed[["sessions", "calls", "subscribers", "lat", "source"]].values.tolist() == [
        [1, 1, 1, 21.29669, "operator"], [0, 2, 2, 22.39711, "operator"]]
    days = presence(seen, placed.index.to_series(), "Asia/Kolkata")
    assert days.values.tolist() == [["404-70-1-1", "91A", "2024-03-01", 2, "15:30:00", "15:35:00"],
                                    ["404-70-1-2", "91A", "2024-03-01", 1, "15:45:00", "15:45:00"],
                                    ["404-70-1-2", "91B", "2024-03-02", 1, "01:30:00", "01:31:00"]]


# ------------------------------------------------------------------ commands

def test_cells_commands_on_a_workspace(tmp_path, capsys):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    s = make_sessions(30, "919800000001", start="2023-04-17 09:00:00")
    s.loc[s.index[:10], "cell_id"] = "404-70-166-28492"
    (dumps / "a.csv").write_text(render(s, "paper"))
    (dumps / "cgi_chart.csv").write_text(chart_text())  # delivered with the dumps: imported at ingest
    ws = tmp_path / "ws"
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", str(dumps), "--date-order", SIM_ORDER)
    assert code == 0, err
    assert ("cgi_chart.csv: cgi chart: 11 lines = 2 loaded + 3 rejected (invalid_cell_id 1, invalid_position 1, "
            "wrong_field_count 1) + 6 non-data; 2 distinct cell(s)\n"
            "  cell positions kept for the place view (cdrnet cells list)\n") in out
    ocid = tmp_path / "ocid.csv"
    ocid.write_text(OCID_HEADER + "\nGSM,404,70,166,12345,0,72.6,23.1,500,3,1,0,0,0\n")
    code, out, err = run_cli(capsys, "-w", str(ws), "cells", "import", str(ocid))
    assert code == 0, err
    assert out.splitlines()[1:] == [
        f"{ocid}: opencellid: 2 lines = 1 loaded + 0 rejected + 1 non-data; 1 distinct cell(s)",
        f"1 list(s) imported, 0 unchanged, 0 refused; workspace {ws.resolve()}"]
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "import", str(ocid))
    assert code == 0 and "already imported (sha256 " in out and "0 list(s) imported, 1 unchanged" in out
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "list")
    assert code == 0
    assert ("2 cells in the case, 2 with a position (100 % of the sessions and calls with a cell): 0 from the "
            "operator's own columns, 1 from a CGI chart, 1 from OpenCelliD/MLS; 0 without a position") in out
    assert "404-70-166-12345                20       0           1  23.10000, 72.60000 (opencellid)" in out
    table = pd.read_csv(ws / "cells.csv", dtype=str)
    assert set(table["source"]) == {"chart", "opencellid"}
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "show", "404700016628492")  # fixed-width form
    assert code == 0
    assert out.splitlines()[1:3] == [
        "cell 404-70-166-28492 (as written: 404-70-166-28492)",
        "position 23.022500, 72.571400 from chart (matched by key, list "
        f"{pd.read_csv(ws / 'cells.csv', dtype=str).set_index('cell_id').loc['404-70-166-28492', 'list_sha256'][:12]}"
        " line 4), site SITE A"]
    assert "10 session(s) and 0 call event(s) of 1 subscriber(s); times in Asia/Kolkata" in out
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "map", "--suspect", "919800000001", "--tz", "UTC")
    assert code == 0 and out.splitlines()[-1] == f"written {ws / 'places.html'}"
    assert "times and days in UTC" in (ws / "places.html").read_text()


def test_a_chart_among_several_dumps_with_workers(tmp_path, capsys):
    """The whole-dump worker path imports a chart found beside the dumps, as one process does."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    for k, msisdn in enumerate(["919800000001", "919800000002"]):
        s = make_sessions(30, msisdn, start="2023-04-17 09:00:00")
        s.loc[s.index[:10], "cell_id"] = "404-70-166-28492"
        (dumps / f"d{k}.csv").write_text(render(s, "paper"))
    (dumps / "cgi_chart.csv").write_text(chart_text())
    ws = tmp_path / "ws"
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", str(dumps), "--workers", "2",
                             "--date-order", SIM_ORDER)
    assert code == 0, err
    assert "cgi_chart.csv: cgi chart: 11 lines = 2 loaded" in out
    assert "refused" not in out.replace("0 refused", "")
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", str(dumps), "--workers", "2",
                             "--date-order", SIM_ORDER)
    assert code == 0, err
    assert "cgi chart" not in out
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "list")
    assert code == 0
    assert "2 cells in the case, 1 with a position" in out and "1 from a CGI chart" in out
    assert "23.02250, 72.57140 (chart)" in out


def test_cells_commands_refuse_clearly(tmp_path, capsys):
    ws = tmp_path / "ws"
    p = tmp_path / "notes.csv"
    p.write_text("a,b,kind\n1,2,x\n")
    code, out, err = run_cli(capsys, "-w", str(ws), "cells", "import", str(p))
    assert code == 1
    assert err == (f"{p}\n  refused: not a cell-site list (no CGI chart or OpenCelliD header in the first 200 "
                   "lines)\n")
    s = make_sessions(5, "919800000001")
    (tmp_path / "a.csv").write_text(render(s, "paper"))
    from cdrnet.workspace import Workspace

    ingest(Workspace(ws).create(), tmp_path / "a.csv", date_order=SIM_ORDER)
    code, out, err = run_cli(capsys, "-w", str(ws), "cells", "show", "404-70-1-1")
    assert code == 1
    assert err == ("error: no cell 404-70-1-1 (key 404-70-1-1) in this case\n"
                   "hint: run 'cdrnet cells list' to see the case's cells\n")
    code, _, err = run_cli(capsys, "-w", str(ws), "cells", "map", "--since", "next tuesday")
    assert code == 1 and err.startswith("error: cannot read the time 'next tuesday'")


@settings(max_examples=100, deadline=None)
@given(cells(with_lac=True), cells())
def test_digits_with_a_tac_find_the_one_listed_lte_cell(cell, other):
    """An LTE cell run together with its TAC (``40470166232169``) finds the listed ECGI, which has
    no TAC; with a second listed cell written with the same digits, it finds none."""
    mcc, mnc, lac, ci = cell
    if ci <= 65535 or lac > 99999:
        return
    digits = f"{mcc}{mnc}{lac}{ci}"
    key = cgi_key(mcc, mnc, lac, ci)
    assert key == cgi_key(mcc, mnc, None, ci)
    listed = pd.Series([key, cgi_key(*other)], dtype="string")
    got = resolve_digits(pd.Series([digits], dtype="string"), listed).iloc[0]
    assert got in (key, digits)  # never another cell
    if got == digits:  # left alone only when the other listed cell is written with these digits too
        assert cgi_key(*other) != key
        assert resolve_digits(pd.Series([digits], dtype="string"), listed[1:]).iloc[0] == cgi_key(*other)
    assert resolve_digits(pd.Series([digits], dtype="string"), listed[:1]).iloc[0] == key


COORDINATE_TEXT = st.one_of(st.none(), st.sampled_from(["", "0", "21.29669", "-72.8915", "91", "1e3", " 5 ", "abc",
                                                        "nan", "99999999999999999999", "-0.0", "0x10", "12,5"]),
                            st.floats(allow_nan=False, width=32).map(str), st.text(max_size=6))


@settings(max_examples=80, deadline=None)
@given(values=st.lists(COORDINATE_TEXT, max_size=60), repeat=st.integers(1, 4),
       dtype=st.sampled_from(["str", "string", "object"]))
def test_numbers_per_distinct_value_equal_per_row(values: list[str | None], repeat: int, dtype: str) -> None:
    """Coordinates parsed once per distinct value (and gathered back) are what ``pd.to_numeric`` of
    every row gives: same floats, NaN where empty, missing or not a number, same index and dtype,
    whether the column holds missing cells and empty ones, few repeats or many."""
    from cdrnet.loader.cells import numbers, numbers_pure

    text = pd.Series(values * repeat, dtype=dtype, index=np.arange(len(values) * repeat) * 2 + 1)
    pd.testing.assert_series_equal(numbers(text), numbers_pure(text), check_exact=True, check_index_type=True)
