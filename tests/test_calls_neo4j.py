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
