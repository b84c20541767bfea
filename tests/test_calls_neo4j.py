"""Call records in a real Neo4j: the same aggregates as the workspace, CALLED beside the evidence rows."""

from __future__ import annotations

from cdrnet.api import Case
from tests.call_case import EXPECTED_CALLED, A, B, C, D, X, Y, called_tuples, write_contact_case, write_tower_case
from tests.conftest import ingest

CASE = "calls"


def test_called_relationships_match_the_hand_computed_aggregate(graph, tmp_path):
    res = ingest(graph, *write_contact_case(tmp_path))
    assert [r.loaded for r in res.loaded] == [5, 4] and not res.failed
    assert called_tuples(graph.called()) == EXPECTED_CALLED
    d = graph.driver
    rel = d.execute_query("MATCH (:Subscriber {case: $c, msisdn: $a})-[r:CALLED]->(:Subscriber {case: $c, msisdn: $b}) "
                          "RETURN r.calls AS calls, r.sms AS sms, r.seconds AS seconds, toString(r.first) AS first",
                          c=CASE, a=A, b=B).records
    assert [dict(r) for r in rel] == [{"calls": 2, "sms": 1, "seconds": 160,
                                       "first": "2026-03-14T10:00:00+05:30[Asia/Kolkata]"}]
    # Every row stays reachable for evidence: three rows in A's CDR and two in B's for A -> B.
    rows = d.execute_query("MATCH (:Subscriber {case: $c, msisdn: $a})-[:PLACED]->(x:Call)-[:TO]->"
                           "(:Subscriber {case: $c, msisdn: $b}) MATCH (dump:Dump)-[:RECORDED]->(x) "
                           "RETURN dump.file_name AS f, x.source_line AS line ORDER BY f, line",
                           c=CASE, a=A, b=B).records
    assert [(r["f"].rsplit("/", 1)[-1], r["line"]) for r in rows] == [
        ("a_airtel.csv", 4), ("a_airtel.csv", 5), ("a_airtel.csv", 8), ("b_jio.csv", 5), ("b_jio.csv", 6)]
    outside = d.execute_query("MATCH (s:Subscriber {case: $c}) RETURN s.msisdn AS m, s.outside_case AS o ORDER BY m",
                              c=CASE).records
    assert {r["m"]: r["o"] for r in outside} == {A: False, B: False, C: True, D: True}


def test_contacts_common_chains_on_neo4j(graph, tmp_path):
    ingest(graph, *write_contact_case(tmp_path))
    case = Case(store=graph)
    c = case.contacts(A)
    assert c.table["contact"].tolist() == [B, C, D]
    assert c.table["night_calls"].tolist() == [1, 1, 0]
    assert case.common([A, B]).values.tolist() == [[C, 1, 2, 3]]
    assert case.chains(D, B) == [[D, A, B]]
    assert case.case_numbers() == {A, B}


def test_reloading_a_cdr_changes_nothing(graph, tmp_path):
    paths = write_contact_case(tmp_path)
    ingest(graph, *paths)
    again = ingest(graph, *paths)
    assert not again.loaded and len(again.unchanged) == 2
    assert called_tuples(graph.called()) == EXPECTED_CALLED


def test_towers_on_neo4j(graph, tmp_path):
    ingest(graph, *write_tower_case(tmp_path))
    case = Case(store=graph)
    assert case.towers(["scene.csv", "hideout.csv"]).table["msisdn"].tolist() == [X, Y]
    assert case.towers(["scene.csv@2026-03-14T21:00/2026-03-14T22:00",
                        "hideout.csv@2026-03-15T00:00/2026-03-15T02:00"]).table["msisdn"].tolist() == [X]
    towers = graph.driver.execute_query("MATCH (d:Dump {case: $c}) WHERE d.tower_cell <> '' "
                                        "RETURN d.tower_cell AS cell ORDER BY cell", c=CASE).records
    assert [r["cell"] for r in towers] == ["405-52-8192-" + k for k in ("1", "2", "3")]


def test_browser_queries_on_call_records(graph, tmp_path):
    from cdrnet.graph.analyst import prepare, run

    ingest(graph, *write_contact_case(tmp_path))

    def q(name: str, **given: str) -> list[dict]:
        return run(graph.driver, name, prepare(name, given, CASE, "91"), None)

    rows = q("call_contacts", msisdn=A)
    assert [(r["contact"], r["outside_case"], r["calls"], r["calls_out"], r["sms"]) for r in rows] == [
        (B, False, 2, 2, 1), (C, True, 1, 0, 0), (D, True, 1, 1, 0)]
    chains = q("contact_chain", a=D, b=B)
    assert len(chains) == 1
    rows = q("call_evidence", a=A, b=B)
    assert [(r["caller"], r["type"], r["line"]) for r in rows] == [
        (A, "voice", 4), (A, "voice", 5), (A, "sms", 5), (A, "sms", 6), (A, "voice", 8)]
    assert len(q("one_network")) == 5  # five CALLED relationships, no link run yet


def test_calls_reach_their_first_and_last_cells(graph, ws, tmp_path):
    """Each call event points to the Cell of its first and last cell (like a session's AT_CELL), the
    Cell nodes carry the position the CDR states, and cells / places read the same on both stores."""
    import pandas as pd

    from cdrnet.graph.analyst import prepare, run
    from cdrnet.synth.call_writers import write_calls

    paths = write_contact_case(tmp_path)
    moved = pd.DataFrame({"msisdn": A, "b_party": C, "direction": "out", "type": "voice",
                          "start": pd.to_datetime(["2026-03-16 09:00:00"]), "duration": 300,
                          "cell": ["404-70-166-11"], "last_cell": ["404-70-166-12"], "lat": [21.29669],
                          "lon": [72.8915]})
    paths.append(write_calls(moved, "airtel_cdr", tmp_path / "a_moved.csv"))
    assert not ingest(graph, *paths).failed and not ingest(ws, *paths).failed
    calls = graph.calls()
    d = graph.driver
    for rel, col in (("FIRST_CELL", "first_cell"), ("LAST_CELL", "last_cell")):
        got = d.execute_query(f"MATCH (x:Call {{case: $c}})-[:{rel}]->(cell:Cell {{case: $c}}) "
                              "RETURN x.event_key AS k, cell.cell_id AS cell", c=CASE).records
        want = calls[calls[col].fillna("") != ""]
        assert sorted((r["k"], r["cell"]) for r in got) == sorted(zip(want["event_key"], want[col], strict=True))
        assert len(got) == 10  # every call of the case names its cells
    moved_cells = d.execute_query(
        "MATCH (x:Call {case: $c})-[r:FIRST_CELL|LAST_CELL]->(cell:Cell) WHERE x.b_party = $b AND x.start_s >= $t "
        "RETURN type(r) AS r, cell.cell_id AS cell, cell.position_source AS src, cell.lat AS lat ORDER BY r",
        c=CASE, b=C, t=int(pd.Timestamp("2026-03-16 03:00", tz="UTC").timestamp())).records
    assert [tuple(r.values()) for r in moved_cells] == [("FIRST_CELL", "404-70-166-11", "operator", 21.29669),
                                                        ("LAST_CELL", "404-70-166-12", "operator", 21.29669)]
    # cells, cells show and the place view read the same from both stores.
    cols = ["cell_id", "sessions", "calls", "subscribers", "lat", "lon", "source"]
    on_graph, on_ws = Case(store=graph).cells(), Case(ws.root).cells()
    pd.testing.assert_frame_equal(on_graph[cols].reset_index(drop=True), on_ws[cols].reset_index(drop=True),
                                  check_dtype=False)
    seen_graph, seen_ws = Case(store=graph).places(tz="UTC").seen, Case(ws.root).places(tz="UTC").seen
    pd.testing.assert_frame_equal(seen_graph.reset_index(drop=True), seen_ws.reset_index(drop=True), check_dtype=False)

    def q(name: str, **given: str) -> list[dict]:
        return run(d, name, prepare(name, given, CASE, "91"), None)

    # Browser: where A was (calls, no data sessions) and who a cell saw.
    places = q("places", msisdn=A)
    assert [(r["cell"], r["sessions"], r["calls"]) for r in places] == [
        ("404-70-166-2001", 0, 5), ("404-70-166-11", 0, 1), ("404-70-166-12", 0, 1)]
    assert str(places[0]["first"].tzinfo) == "Asia/Kolkata"
    visitors = q("cell_visitors", cell="404-70-166-2001")
    assert [(r["msisdn"], r["sessions"], r["calls"]) for r in visitors] == [(A, 0, 5)]
    # B's Jio CDR writes the cell in Jio's hex form, without TAC: the ECGI 404-70-2001 (tests/test_places_calls.py).
    assert [(r["msisdn"], r["calls"]) for r in q("cell_visitors", cell="404-70-2001")] == [(B, 4)]
    assert visitors[0]["first"].hour == 10 and str(visitors[0]["first"].tzinfo) == "Asia/Kolkata"


def test_one_network_in_browser_is_the_case_s_one_network(graph, tmp_path):
    """The Browser's table of the one network (CO_USED and CALLED) equals Case.contact_network, the
    function map, summary and report draw their direct contacts from: same pairs, same kinds."""
    from cdrnet.graph.analyst import prepare, run
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate
    from tests.conftest import SIM_ORDER

    simulate(build_scenario("calls", subscribers=10, days=3, seed=5), tmp_path / "case")
    assert not ingest(graph, tmp_path / "case" / "dumps", date_order=SIM_ORDER).failed
    case = Case(store=graph)
    case.link()
    net = case.contact_network(case.network().edges)
    assert {"both", "inferred"} <= set(net["kind"])  # links with and without calls
    rows = run(graph.driver, "one_network_pairs", prepare("one_network_pairs", {"limit": "1000"}, CASE, "91"), None)
    got = sorted((r["a"], r["b"], r["kind"], r["calls"], r["sms"], r["seconds"]) for r in rows)
    assert got == sorted(zip(net["a"], net["b"], net["kind"], net["calls"], net["sms"], net["seconds"], strict=True))


def test_replacing_a_resend_keeps_the_calls_the_first_delivery_recorded(graph, tmp_path):
    """A Call is one event shared by every dump that delivers it (an operator's re-send overlaps
    the first delivery): ``ingest --replace`` of the re-send must not take the first dump's calls."""
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures

    a_path, b_path = write_contact_case(tmp_path)
    lines = a_path.read_text().splitlines(keepends=True)
    resend = tmp_path / "a_airtel_resend.csv"
    resend.write_text("".join(lines[:-1]))  # the same export without its last row: another SHA-256
    ingest(graph, a_path, b_path)
    assert len(ingest(graph, resend).loaded) == 1

    def recorded() -> dict[str, int]:
        rows = graph.driver.execute_query(
            "MATCH (d:Dump {case: $c})-[:RECORDED]->(x:Call) RETURN d.file_name AS f, count(x) AS n", c=CASE).records
        return {r["f"].rsplit("/", 1)[-1]: r["n"] for r in rows}

    before = recorded()
    assert before["a_airtel.csv"] > before["a_airtel_resend.csv"] > 0
    opts = Options(tz="Asia/Kolkata", rules=load_signatures("modern"))
    res = ingest_paths([str(resend)], graph, builtin_layouts(), opts, "modern", show_progress=False, replace=True)
    assert len(res.replaced) == 1
    assert recorded() == before
    assert called_tuples(graph.called()) == EXPECTED_CALLED
