"""Places in Neo4j: Cell positions with their source, imported lists, SEEN_AT, the places query,
and the same placement as the workspace (a real Neo4j, never mocked)."""

from __future__ import annotations

import pandas as pd
import pytest

from cdrnet.api import Case
from cdrnet.workspace import Workspace
from tests.conftest import ingest
from tests.test_cells import OCID_HEADER, chart_text
from tests.test_real_exports import AIRTEL_HEADER, AIRTEL_PREAMBLE, FOOTER, airtel_row

pytestmark = pytest.mark.neo4j
CASE = "test-neo4j-cells"


def dump_text() -> str:
    """Cell 59160 with the operator's own position (Excel re-saved Airtel), 28492 and 10000 without."""
    header = AIRTEL_HEADER.replace(",CELL ID", ",  CGI Latitude, CGI Longitude, CGI")
    cells = ["23.060,72.0870,404-70-166-59160", ",,404-70-166-28492", ",,404-70-0166-28492", ",,404-70-166-10000"]
    rows = [airtel_row(f"02-Mar-2026 12:0{k}:00", "02-Mar-2026 12:30:00", "142.250.1.1", 443, 5 + k, 100, 10,
                       cell=c) for k, c in enumerate(cells)]
    return AIRTEL_PREAMBLE + header + "\n" + "\n".join(rows) + FOOTER


def test_positions_on_cell_nodes_and_seen_at(graph, driver, tmp_path):
    (tmp_path / "dump.csv").write_text(dump_text())
    (tmp_path / "chart.csv").write_text(chart_text())
    (tmp_path / "ocid.csv").write_text(OCID_HEADER + "\nGSM,404,70,166,10000,0,72.7,23.2,500,3,1,0,0,0\n"
                                       "GSM,404,70,166,28492,0,70.0,20.0,500,3,1,0,0,0\n"
                                       "GSM,404,70,166,777,0,71.0,21.0,500,3,1,0,0,0\n")
    assert not ingest(graph, tmp_path / "dump.csv").failed
    case = Case(tmp_path, store=graph)
    done = case.import_cells([tmp_path / "chart.csv", tmp_path / "ocid.csv"])
    assert [r.kind for r in done.loaded] == ["cgi_chart", "opencellid"] and not done.refused
    assert done.note == f"3 cell positions written to {graph.describe()}"
    rows = driver.execute_query(
        "MATCH (c:Cell {case: $case}) RETURN c.cell_id AS cell, c.lat AS lat, c.lon AS lon, c.position_source AS src,"
        " c.position_match AS how, c.position_line AS line, c.location.latitude AS loc ORDER BY cell",
        case=CASE).records
    # 10000: the chart lists it de-commissioned and still wins over OpenCelliD; 28492 twice in the dump
    # (with and without a leading zero): one cell.
    assert [tuple(r.values()) for r in rows] == [
        ("404-70-166-10000", 23.03, 72.58, "chart", "key", 5, 23.03),
        ("404-70-166-28492", 23.0225, 72.5714, "chart", "key", 4, 23.0225),
        ("404-70-166-59160", 23.06, 72.087, "operator", "dump", None, 23.06)]
    lists = driver.execute_query("MATCH (l:CellList {case: $case}) RETURN l.kind AS kind, l.loaded AS loaded, "
                                 "l.lines_read AS lines ORDER BY kind", case=CASE).records
    assert [tuple(r.values()) for r in lists] == [("cgi_chart", 2, 11), ("opencellid", 3, 4)]
    seen = graph.query("queries/places", {"case": CASE, "msisdn": "917873019433", "limit": 10})
    assert [(r["cell"], r["sessions"], r["position_from"]) for r in seen] == [
        ("404-70-166-28492", 2, "chart"), ("404-70-166-10000", 1, "chart"), ("404-70-166-59160", 1, "operator")]
    assert str(seen[0]["first"].tzinfo) == "Asia/Kolkata" and seen[0]["first"].hour == 12
    # A dump loaded later: its new cell takes its position from the lists already imported.
    later = AIRTEL_PREAMBLE.replace("7873019433", "7873019440") + AIRTEL_HEADER + "\n" + airtel_row(
        "03-Mar-2026 09:00:00", "03-Mar-2026 09:30:00", "142.250.1.1", 443, 9, 100, 10, cell="404-70-166-777",
        msisdn="7873019440") + FOOTER
    (tmp_path / "later.csv").write_text(later)
    assert [r.loaded for r in case.ingest([tmp_path / "later.csv"]).loaded] == [1]
    got = driver.execute_query("MATCH (c:Cell {case: $case, cell_id: '404-70-166-777'}) "
                               "RETURN c.lat AS lat, c.position_source AS src", case=CASE).records
    assert [tuple(r.values()) for r in got] == [(21.0, "opencellid")]
    # The same dumps and lists on the workspace give the same placement.
    ws = Workspace(tmp_path / "ws").create()
    ingest(ws, tmp_path / "dump.csv", tmp_path / "later.csv")
    wcase = Case(tmp_path / "ws")
    wcase.import_cells([tmp_path / "chart.csv", tmp_path / "ocid.csv"])
    cols = ["cell_id", "sessions", "subscribers", "lat", "lon", "source", "matched_by", "source_line"]
    pd.testing.assert_frame_equal(case.cells()[cols], wcase.cells()[cols], check_dtype=False)
