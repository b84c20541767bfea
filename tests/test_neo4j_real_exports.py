"""Issue 14 in Neo4j: cells with raw id, name and position; volumes summed once per record."""

from __future__ import annotations

import pytest

from cdrnet.loader.volumes import total_volume
from tests.conftest import ingest
from tests.test_real_exports import (
    AIRTEL_HEADER,
    AIRTEL_PREAMBLE,
    FOOTER,
    airtel_records,
    airtel_row,
)

pytestmark = pytest.mark.neo4j
CASE = "test-neo4j-exports"


def test_cells_and_record_volumes_in_neo4j(graph, driver, tmp_path):
    (tmp_path / "records.csv").write_text(airtel_records())
    header = AIRTEL_HEADER.replace(",CELL ID", ",  CGI Latitude, CGI Longitude, CGI")
    rows = [airtel_row(f"02-Mar-2026 12:0{k}:00", "02-Mar-2026 12:30:00", "142.250.1.1", 443, 5, 100, 10,
                       msisdn="7873019440", cell="23.060,72.0870,404 98 8149 59160") for k in range(2)]
    (tmp_path / "excel.csv").write_text(AIRTEL_PREAMBLE + header + "\n" + "\n".join(rows) + FOOTER)
    res = ingest(graph, tmp_path / "records.csv", tmp_path / "excel.csv")
    assert not res.failed and [r.loaded for r in res.loaded] == [12, 2]
    cell = driver.execute_query(
        "MATCH (c:Cell {case: $case, cell_id: '404-98-8149-59160'}) "
        "RETURN c.cell_raw AS raw, c.lat AS lat, c.lon AS lon",
        case=CASE).records
    assert [(r["raw"], r["lat"], r["lon"]) for r in cell] == [("404 98 8149 59160", 23.06, 72.087)]
    # Volumes once per record: one total per record_key (every flow row repeats it).
    vol = driver.execute_query(
        "MATCH (s:Session {case: $case, msisdn: '917873019433'}) WITH s.record_key AS k, "
        "max(s.uplink + s.downlink) AS v RETURN sum(v) AS total, count(k) AS records", case=CASE).records[0]
    assert (vol["total"], vol["records"]) == (17500, 3)
    f = graph.sessions()
    assert total_volume(f[f["msisdn"] == "917873019433"]) == 17500
    got = f[f["msisdn"] == "917873019440"]
    assert got["lat"].tolist() == [23.06, 23.06] and got["cell_raw"].tolist() == ["404 98 8149 59160"] * 2
