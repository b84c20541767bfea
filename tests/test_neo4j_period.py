"""The Dump node carries the requested period, date order and scopes (real local Neo4j)."""

from __future__ import annotations

import pytest

from cdrnet.graph.store import GraphStore
from tests.conftest import ingest
from tests.neo4j_fixtures import connect_or_skip, wipe
from tests.test_period_dateorder import airtel_file

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def driver():
    d = connect_or_skip()
    yield d
    d.close()


def test_dump_node_carries_the_period(driver, tmp_path):
    wipe(driver)
    graph = GraphStore(driver, tmp_path / "rejects")
    graph.create_schema()
    p = airtel_file(tmp_path, [("07/03/2023 11:34", "07/03/2023 12:00"), ("07/20/2023 09:10", "07/20/2023 09:40")],
                    "IPDR OF Mobile No : 7873019433 from 01-Jul-2023 to 17-Jul-2023", excel=True)
    rep = ingest(graph, p).loaded[0]
    rec = driver.execute_query(
        "MATCH (d:Dump {sha256: $sha}) RETURN d.period_start_utc AS s, d.period_end_utc AS e, "
        "d.period_source AS src, d.rows_outside_period AS outside, d.date_order AS dorder, "
        "d.date_order_source AS dsrc, d.end_scope AS es, d.volume_scope AS vs, "
        "toString(d.period_start) AS s_dt, toString(d.period_end) AS e_dt", sha=rep.sha256).records[0]
    assert dict(rec) == {"s": "2023-06-30T18:30:00+00:00", "e": "2023-07-17T18:29:59+00:00", "src": "preamble",
                         "outside": 1, "dorder": "mdy", "dsrc": "data", "es": "record", "vs": "record",
                         "s_dt": "2023-06-30T18:30:00Z", "e_dt": "2023-07-17T18:29:59Z"}
    back = graph.reports()[0]
    assert (back.period_start_utc, back.period_source, back.rows_outside_period) == (
        "2023-06-30T18:30:00+00:00", "preamble", 1)
    assert back.period_text() == "2023-07-01 00:00 .. 2023-07-17 23:59:59 Asia/Kolkata (stated in preamble)"
