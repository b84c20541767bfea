"""Places from call records (issue 18, items 2 and 5 together): call events are seen at their first
and last cells, CDR positions (Airtel ``lat/long``, BSNL ``Lat-…; Long-…``) place cells through the
same function as IPDR ones, and the Jio hex cell joins an OpenCelliD row listed with its TAC."""

from __future__ import annotations

from cdrnet.synth.call_writers import write_calls
from tests.call_case import A, B, C, write_contact_case, write_tower_case
from tests.conftest import run_cli
from tests.test_cells import OCID_HEADER


def test_cells_of_call_records_and_tower_dumps(tmp_path, capsys):
    import pandas as pd

    cases = tmp_path / "cdrs"
    cases.mkdir()
    write_contact_case(cases)  # A's Airtel CDR and B's Jio CDR, both at 404-70-166-2001, no positions
    write_tower_case(cases)  # three Airtel tower dumps, the same cell
    jio = pd.DataFrame({"msisdn": C, "b_party": A, "direction": "out", "type": "voice",
                        "start": pd.to_datetime(["2026-03-14 10:00:00"]), "duration": 30, "cell": ["405-874-7-59160"]})
    assert "4058740000e718" in write_calls(jio, "jio_cdr", cases / "c_jio.csv").read_text()  # hex, no TAC
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", str(cases))
    assert code == 0, err
    ocid = tmp_path / "ocid.csv"  # OpenCelliD keys LTE cells by TAC: the Jio cell joins on MCC, MNC, ECI
    ocid.write_text(OCID_HEADER + "\nLTE,405,874,7,59160,0,72.6,23.1,500,3,1,0,0,0\n"
                    "GSM,404,70,166,2001,0,72.5,23.0,500,3,1,0,0,0\n")
    code, out, err = run_cli(capsys, "-w", str(ws), "cells", "import", str(ocid))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "list")
    assert code == 0, out
    assert ("3 cells in the case, 3 with a position (100 % of the sessions and calls with a cell): 0 from the "
            "operator's own columns, 0 from a CGI chart, 3 from OpenCelliD/MLS; 0 without a position") in out
    # A's CDR and the tower dumps: 5 + 3 + 2 + 2 call events. B's Jio CDR writes the cell in hex with
    # the MNC in a 3-digit field ("404070…"): network 404-70 (MCC 404's MNCs have 2 digits), an ECGI
    # without TAC, placed by its family. The LTE row of OpenCelliD is keyed without its TAC.
    assert out.splitlines()[3:7] == [
        "cell                      sessions   calls subscribers  position",
        "404-70-166-2001                  0      12           4  23.00000, 72.50000 (opencellid)",
        "404-70-2001                      0       4           1  23.00000, 72.50000 (opencellid, matched by family)",
        "405-874-59160                    0       1           1  23.10000, 72.60000 (opencellid)"]
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "show", "4058740000E718", "--tz", "UTC")
    assert code == 0 and "0 session(s) and 1 call event(s) of 1 subscriber(s); times in UTC" in out
    assert f"  {C}  2026-03-14  04:30:00-04:30:30  1 session(s)/call(s)" in out
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "map", "--suspect", A)
    assert code == 0 and (ws / "places.html").exists()


def test_cdr_positions_place_cells_as_the_operator_states_them(tmp_path, capsys):
    import pandas as pd

    events = pd.DataFrame({"msisdn": A, "b_party": B, "direction": "out", "type": "voice",
                           "start": pd.to_datetime(["2026-03-14 10:00:00", "2026-03-14 11:00:00"]), "duration": 30,
                           "cell": ["404-70-166-11", "404-72-5-12"], "lat": [21.29669, 22.39711],
                           "lon": [72.8915, 88.43938]})
    a = write_calls(events.iloc[:1], "airtel_cdr", tmp_path / "cdrs" / "a.csv")  # "21.29669/72.89150"
    b = write_calls(events.iloc[1:], "bsnl_cdr", tmp_path / "cdrs" / "b.csv")  # "Kolkata; Lat-22.39711; Long-…"
    assert "21.29669/72.89150" in a.read_text() and "Lat-22.39711; Long-88.43938" in b.read_text()
    ws = tmp_path / "ws"
    assert run_cli(capsys, "-w", str(ws), "ingest", str(tmp_path / "cdrs"))[0] == 0
    code, out, _ = run_cli(capsys, "-w", str(ws), "cells", "list")
    assert code == 0 and "2 from the operator's own columns" in out
    assert "404-70-166-11                    0       1           1  21.29669, 72.89150 (operator)" in out
    assert "404-72-5-12                      0       1           1  22.39711, 88.43938 (operator)" in out
