"""Voice/SMS CDR and tower-dump layouts: every line accounted for, every field where it belongs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdrnet.loader.layouts import builtin_layouts, load_layout_file
from cdrnet.synth.call_writers import CALL_LAYOUTS, render_calls, write_calls
from tests.conftest import ingest, run_cli

#: Preamble, header and footer lines of each layout as the writer renders it (non-data).
NONDATA = {"airtel_cdr": 3, "jio_cdr": 4, "vi_cdr": 4, "bsnl_cdr": 6, "dot_cdr": 1}


def make_calls(n: int = 12, msisdn: str = "919876543210", seed: int = 3,
               start: str = "2026-03-14 09:00:00") -> pd.DataFrame:
    """Generated call events of one subscriber (never real numbers)."""
    rng = np.random.default_rng(seed)
    t = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.choice(86_400 * 3, n, replace=False)), unit="s")
    kinds = [("out", "voice"), ("in", "voice"), ("out", "sms"), ("in", "sms")]
    dk = [kinds[i % 4] for i in range(n)]
    voice = np.array([k[1] == "voice" for k in dk])
    return pd.DataFrame({
        "msisdn": msisdn, "b_party": [f"9198000000{i % 5:02d}" for i in range(n)],
        "direction": [k[0] for k in dk], "type": [k[1] for k in dk], "start": t,
        "duration": np.where(voice, rng.integers(5, 600, n), 0),
        "cell": [f"404-70-166-{2000 + i % 3}" for i in range(n)], "last_cell": [f"404-70-166-{3000 + i % 3}"
                                                                                for i in range(n)],
        "lat": 23.0225, "lon": 72.5714, "imei": "359193622303069", "imsi": "404704714664063",
    })


@pytest.mark.parametrize("layout", CALL_LAYOUTS)
def test_call_layout_round_trip(ws, tmp_path, layout):
    calls = make_calls(12)
    path = write_calls(calls, layout, tmp_path / f"{layout}.csv")
    rep = ingest(ws, path).loaded[0]
    assert rep.layout == layout and rep.kind == "calls"
    assert (rep.loaded, rep.rejected, rep.nondata) == (12, {}, NONDATA[layout])
    assert rep.accounted and rep.lines_read == len(path.read_text().splitlines())
    assert rep.msisdns == ["919876543210"] and not rep.tower_cell
    got = ws.calls().sort_values("source_line").reset_index(drop=True)
    assert got["msisdn"].unique().tolist() == ["919876543210"]
    assert got["b_party"].tolist() == calls["b_party"].tolist()
    assert got["direction"].tolist() == calls["direction"].tolist()
    assert got["type"].tolist() == calls["type"].tolist()
    assert got["duration_s"].tolist() == calls["duration"].tolist()
    out_ = calls["direction"] == "out"
    assert got["caller"].tolist() == calls["msisdn"].where(out_, calls["b_party"]).tolist()
    assert got["callee"].tolist() == calls["b_party"].where(out_, calls["msisdn"]).tolist()
    expected = calls["start"].dt.tz_localize("Asia/Kolkata").dt.tz_convert("UTC").tolist()
    assert got["start_utc"].tolist() == expected
    assert (got["end_utc"] - got["start_utc"]).dt.total_seconds().astype(int).tolist() == calls["duration"].tolist()
    # One canonical cell id whatever the form (Jio writes the hex LTE cell identity, no TAC, the
    # MNC in a 3-digit field: "404070…" is network 404-70, MCC 404's MNCs having 2 digits).
    assert got["first_cell"].tolist() == [c if layout != "jio_cdr" else "404-70-" + c.split("-")[3]
                                          for c in calls["cell"]]
    assert got["imei"].unique().tolist() == ["359193622303069"]
    assert ws.sessions is not None and list(ws.dump_files()) == []  # no data sessions were made up


def test_positions_from_the_operators_own_columns(ws, tmp_path):
    calls = make_calls(4)
    for layout in ("airtel_cdr", "bsnl_cdr", "jio_cdr"):
        ingest(ws, write_calls(calls, layout, tmp_path / f"{layout}.csv"))
    got = ws.calls()
    by = got.groupby("layout")[["first_lat", "first_lon", "last_lat"]].first()
    assert by.loc["airtel_cdr"].tolist() == [23.0225, 72.5714, 23.0225]  # "23.02250/72.57140"
    assert by.loc["bsnl_cdr"].tolist() == [23.0225, 72.5714, 23.0225]  # "…; Lat-23.02250; Long-72.57140"
    assert by.loc["jio_cdr"].isna().all()  # Jio states no positions


def test_jio_swaps_calling_and_called_by_call_type(ws, tmp_path):
    text = ("Ticket Number :,LEA-4321\nInput Value (MSISDN/B PARTY/IMEI/IMSI/CELL ID) :,9008700825\n"
            "Date Range :,02/03/2026 - 31/03/2026\n"
            "Calling Party Telephone Number,Called Party Telephone Number,Call Forwarding,LRN Called No,Call Date,"
            "Call Time,Call Termination Time,Call Duration,First Cell ID,Last Cell ID,Call Type,SMS Center Number,"
            "IMEI,IMSI,Roaming Circle Name\n"
            "9426434778,9008700825,,,14/03/2026,09:19:37,09:20:02,25,40587400007fa4,40587400007fa4,a_in,,"
            "358248352970340,404704312038832,Gujarat\n"
            "9008700825,9608002818,,,14/03/2026,00:42:40,00:42:40,0,40587400007fa4,40587400007fa4,P2P_SMSOUT,,"
            "358248352970340,404704312038832,Gujarat\n"
            "AX-HDFCBK,9008700825,,,14/03/2026,10:00:00,10:00:00,0,40585703AD319,,A2P_SMSIN,,"
            "358248352970340,404704312038832,Gujarat\n")
    p = tmp_path / "jio.csv"
    p.write_text(text)
    rep = ingest(ws, p).loaded[0]
    assert (rep.layout, rep.loaded, rep.nondata, rep.period_source) == ("jio_cdr", 3, 4, "preamble")
    got = ws.calls().sort_values("source_line")
    assert got["msisdn"].tolist() == ["919008700825"] * 3
    assert got["b_party"].tolist() == ["919426434778", "919608002818", "AX-HDFCBK"]  # a sender id stays text
    assert got[["direction", "type"]].values.tolist() == [["in", "voice"], ["out", "sms"], ["in", "sms"]]
    # 40587400007fa4: MCC 405, MNC 874, cell identity 0x7fa4; 40585703AD319: MNC 857, 0x03AD319.
    assert got["first_cell"].tolist() == ["405-874-" + str(0x7FA4)] * 2 + ["405-857-" + str(0x03AD319)]


def test_rejects_are_counted_with_reasons(ws, tmp_path):
    calls = make_calls(6)
    text = render_calls(calls, "airtel_cdr").splitlines()
    text[4] = text[4].replace(",OUT,", ",XYZ,").replace(",IN,", ",XYZ,").replace(",SMO,", ",XYZ,")
    text[5] = text[5].replace("/03/2026", "/13/2026")
    text.insert(6, "9876543210,OUT,,9800000001")  # too few fields
    p = tmp_path / "a.csv"
    p.write_text("\n".join(text) + "\n")
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 4 and rep.nondata == 3
    assert rep.rejected == {"unknown_call_type": 1, "invalid_time": 1, "wrong_field_count": 1}
    assert rep.accounted
    rejects = pd.read_csv(ws.rejects.combined, dtype=str)
    assert sorted(rejects["line"].astype(int)) == [5, 6, 7]


def test_airtel_tower_dump_and_its_empty_export(ws, tmp_path):
    here = make_calls(5, "919811111111")
    there = make_calls(3, "919822222222", seed=9)
    dump = pd.concat([here, there], ignore_index=True)
    p = write_calls(dump, "airtel_cdr", tmp_path / "tower.csv", tower_cell="405-52-8192-45011")
    rep = ingest(ws, p).loaded[0]
    assert (rep.layout, rep.kind, rep.loaded, rep.nondata) == ("airtel_cdr", "calls", 8, 3)
    assert (rep.tower_cell, rep.tower_cell_raw, rep.tower_numbers) == ("405-52-8192-45011", "405-52-8192-45011", 2)
    assert rep.msisdns == []  # requested for a cell, not for a subscriber
    assert any("tower dump of cell 405-52-8192-45011" in line for line in rep.summary_lines())
    empty = tmp_path / "empty.csv"
    empty.write_text(render_calls(dump.iloc[:0], "airtel_cdr", tower_cell="405-52-8192-45012",
                                  period=(pd.Timestamp("2026-03-14"), pd.Timestamp("2026-03-14 23:59:59"))))
    rep = ingest(ws, empty).loaded[0]
    assert (rep.layout, rep.kind, rep.loaded, rep.nondata, rep.lines_read) == ("empty-export", "calls", 0, 3, 3)
    assert rep.tower_cell == "405-52-8192-45012" and rep.period_source == "preamble"
    assert "nobody at cell 405-52-8192-45012" in rep.notes[0]


def test_mapping_file_describes_another_call_layout(ws, tmp_path):
    mapping = tmp_path / "ops.toml"
    mapping.write_text('name = "ops_cdr"\nkind = "calls"\n[call_types]\nORIG = "out voice"\n'
                       '[fields]\nmsisdn = "Subscriber"\nb_party = "Other"\ncall_type = "Kind"\n'
                       'start = "When"\nduration = "Secs"\n')
    layout = load_layout_file(mapping)
    assert layout.kind == "calls" and layout.call_types == {"ORIG": "out voice"}
    p = tmp_path / "ops.csv"
    p.write_text("Subscriber,Other,Kind,When,Secs\n9800000001,9800000002,ORIG,14/03/2026 10:00:00,30\n"
                 "9800000001,9800000003,MTC,14/03/2026 11:00:00,40\n")
    rep = ingest(ws, p, layouts=[layout, *builtin_layouts()]).loaded[0]
    assert (rep.layout, rep.loaded, rep.nondata) == ("ops_cdr", 2, 1)
    assert ws.calls()["direction"].tolist() == ["out", "in"]


def test_a_call_mapping_needs_its_party_and_type_columns(tmp_path):
    from cdrnet.errors import LayoutFileError

    mapping = tmp_path / "bad.toml"
    mapping.write_text('kind = "calls"\n[fields]\nmsisdn = "A"\nstart = "When"\n')
    with pytest.raises(LayoutFileError, match="must name the b_party and call_type columns"):
        load_layout_file(mapping)


def test_cli_ingest_counts_call_events(ws, tmp_path, capsys):
    p = write_calls(make_calls(8), "vi_cdr", tmp_path / "vi.csv")
    code, out, err = run_cli(capsys, "-w", str(ws.root), "ingest", str(p))
    assert code == 0, err
    assert "1 dump(s) loaded (0 sessions, 8 call events, 0 rejected rows)" in out
    code, out, _ = run_cli(capsys, "-w", str(ws.root), "dumps")
    assert out.splitlines()[-1] == "1 dump(s), 0 sessions, 8 call events"


def test_an_unknown_cdr_header_is_refused_with_a_hint(ws, tmp_path, capsys):
    p = tmp_path / "x.csv"
    p.write_text("Number,Call Type,B Party,When\n9800000001,OUT,9800000002,14/03/2026 10:00\n")
    code, _, err = run_cli(capsys, "-w", str(ws.root), "ingest", str(p))
    assert code == 1
    assert ("  refused (unknown layout): line 1 is a voice/SMS call record (CDR) header ('Call Type', 'B Party') "
            "that no call layout fits") in err.splitlines()
