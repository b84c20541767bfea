"""Every built-in layout parses back with every line accounted for."""

from __future__ import annotations

import pandas as pd
import pytest

from cdrnet.synth.writers import empty_airtel_export, write_dump
from tests.conftest import ingest, make_sessions


@pytest.mark.parametrize(
    "layout,expected_nondata",
    [("paper", 1), ("jio", 1), ("airtel", 11), ("airtel_excel", 7), ("vi", 15), ("vi_gprs", 5)],
)
def test_layout_round_trip(ws, tmp_path, layout, expected_nondata):
    s = make_sessions(40)
    path = write_dump(s, layout, tmp_path / f"{layout}.csv")
    res = ingest(ws, path)
    assert not res.failed
    rep = res.loaded[0]
    assert rep.layout == ("airtel" if layout == "airtel_excel" else layout)
    assert rep.loaded == 40
    assert rep.rejected == {}
    assert rep.nondata == expected_nondata
    assert rep.accounted and rep.lines_read == sum(1 for _ in open(path, encoding="utf-8"))
    got = ws.sessions()
    assert set(got["msisdn"]) == {"919876543210"}
    assert got["source_line"].min() > 0


def test_times_are_utc_and_local_text_kept(ws, tmp_path):
    s = make_sessions(5)
    write_dump(s, "vi", tmp_path / "vi.csv")
    ingest(ws, tmp_path / "vi.csv")
    got = ws.sessions().sort_values("source_line")
    expected = (s["start"].dt.tz_localize("Asia/Kolkata").dt.tz_convert("UTC")).dt.floor("s").tolist()
    assert got["start_utc"].tolist() == expected
    assert got["start_local"].iloc[0] == s["start"].iloc[0].strftime("%d/%m/%Y %H:%M:%S")
    assert set(got["tz"]) == {"Asia/Kolkata"}


def test_tz_option_changes_utc(ws, tmp_path):
    s = make_sessions(3)
    write_dump(s, "paper", tmp_path / "p.csv")
    ingest(ws, tmp_path / "p.csv", tz="UTC")
    got = ws.sessions().sort_values("source_line")
    assert got["start_utc"].iloc[0] == s["start"].iloc[0].tz_localize("UTC")


def test_jio_uses_time1_and_keeps_allocation_window(ws, tmp_path):
    s = make_sessions(6)
    path = write_dump(s, "jio", tmp_path / "jio.csv")
    ingest(ws, path)
    got = ws.sessions().sort_values("source_line")
    first = s.iloc[0]
    assert got["start_utc"].iloc[0] == first["start"].tz_localize("Asia/Kolkata").tz_convert("UTC")
    alloc = first["start"].floor("30min").tz_localize("Asia/Kolkata").tz_convert("UTC")
    assert got["alloc_start_utc"].iloc[0] == alloc
    assert got["alloc_end_utc"].iloc[0] == alloc + pd.Timedelta(minutes=30)
    assert ws.reports()[0].time_level == "flow"


def test_jio_allocation_only_rows_are_loaded(ws, tmp_path):
    s = make_sessions(4)
    s.loc[1, "dest_ip"] = ""
    s.loc[1, "dest_port"] = None
    s["dest_port"] = s["dest_port"].astype("Int64")
    path = write_dump(s, "jio", tmp_path / "jio.csv")
    rep = ingest(ws, path).loaded[0]
    assert rep.loaded == 4 and rep.rejected == {}
    got = ws.sessions()
    alloc_only = got[got["dest_port"].isna()]
    assert len(alloc_only) == 1 and alloc_only["app"].iloc[0] == ""
    assert rep.with_destination == 3


def test_jio_without_time1_falls_back_to_allocation_window(ws, tmp_path):
    s = make_sessions(10)
    text = write_dump(s, "jio", tmp_path / "j.csv").read_text()
    lines = text.splitlines()
    # Blank the TIME1 column in every data row.
    header = lines[0].split(",")
    k = header.index("TIME1 (dd/MM/yyyy HH:mm:ss)")
    rows = [",".join(f if i != k else "" for i, f in enumerate(line.split(","))) for line in lines[1:]]
    (tmp_path / "j2.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    rep = ingest(ws, tmp_path / "j2.csv").loaded[0]
    assert rep.time_level == "allocation" and rep.resolution_s == 1800
    assert any("TIME1" in n for n in rep.notes)


def test_airtel_excel_quirks(ws, tmp_path):
    path = write_dump(make_sessions(20), "airtel_excel", tmp_path / "ax.csv")
    rep = ingest(ws, path).loaded[0]
    assert rep.imei_precision_lost == 20 and rep.imsi_precision_lost == 20
    assert rep.seconds_present is False and rep.resolution_s >= 60
    got = ws.sessions()
    assert (got["imei"] == "").all() and (got["imsi"] == "").all()


def test_airtel_pdp_session_times_are_detected(ws, tmp_path):
    s = make_sessions(60)
    path = write_dump(s, "airtel", tmp_path / "a.csv", pdp_minutes=240)
    rep = ingest(ws, path).loaded[0]
    assert rep.shared_start_share > 0.5
    assert rep.time_level == "session"


def test_airtel_empty_export_is_zero_rows_not_error(ws, tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text(empty_airtel_export("9876543210"))
    res = ingest(ws, p)
    assert not res.failed
    rep = res.loaded[0]
    assert rep.loaded == 0 and rep.rejected_total == 0 and rep.nondata == rep.lines_read == 7
    assert rep.layout == "empty-export"


def test_vi_gprs_has_no_application(ws, tmp_path):
    path = write_dump(make_sessions(8), "vi_gprs", tmp_path / "g.csv")
    rep = ingest(ws, path).loaded[0]
    assert rep.has_destination is False
    got = ws.sessions()
    assert (got["app"] == "").all() and got["dest_port"].isna().all()
    # One canonical form for every way a cell is written; the raw text is kept beside it.
    assert (got["cell_id"] == "404-70-166-12345").all() and (got["cell_raw"] == "404-70-166-12345").all()
    assert (got["cell_name"] == "Sector 345 New Delhi").all()  # First BTS Location, kept


def test_vi_cell_name_with_comma_is_quoted_and_parsed(ws, tmp_path):
    path = write_dump(make_sessions(5), "vi", tmp_path / "v.csv")
    assert '", New Delhi"' not in path.read_text() and ', New Delhi"' in path.read_text()
    assert ingest(ws, path).loaded[0].loaded == 5


@pytest.mark.parametrize("delim", [";", "|", "\t"])
def test_other_delimiters(ws, tmp_path, delim):
    path = write_dump(make_sessions(7), "paper", tmp_path / "d.txt", delimiter=delim)
    rep = ingest(ws, path).loaded[0]
    assert rep.loaded == 7 and rep.accounted
