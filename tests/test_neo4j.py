"""Integration tests against a real local Neo4j (scripts/neo4j-local start)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cdrnet.analysis.cousage import LinkParams, link
from cdrnet.analysis.observed import Coverage
from cdrnet.errors import GraphError
from cdrnet.graph import store as store_mod
from cdrnet.graph.cousage import link_neo4j
from cdrnet.graph.store import GraphStore
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.synth.writers import render
from cdrnet.workspace import Workspace
from tests.conftest import SIM_ORDER, ingest, make_sessions, run_cli
from tests.neo4j_fixtures import PASSWORD, URI, counts, wipe

pytestmark = pytest.mark.neo4j
CASE = "test-neo4j"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("neo-case")
    simulate(build_scenario("easy", subscribers=16, days=4, seed=5), root)
    return root


def test_schema_is_derived_and_created(graph, driver):
    names = {r["name"] for r in driver.execute_query("SHOW CONSTRAINTS YIELD name").records}
    assert {"subscriber_case_msisdn", "session_case_session_key", "dump_case_sha256", "linkrun_case_run"} <= names
    assert "subscriber_msisdn" not in names  # one number may be in several cases
    idx = {r["name"] for r in driver.execute_query("SHOW INDEXES YIELD name").records}
    assert {"session_case_msisdn_start_s", "device_case_imei14"} <= idx
    # Sessions: the key and one index, no more (each is an entry per session in every load).
    assert {n for n in idx if n.startswith("session_")} == {"session_case_session_key", "session_case_msisdn_start_s"}
    # Episodes are temporary: their schema exists only while a link run computes.
    assert not any(n.startswith("episode") for n in names | idx)


def test_load_matches_workspace_and_is_idempotent(graph, driver, case, tmp_path):
    res = ingest(graph, case / "dumps", date_order=SIM_ORDER)
    assert not res.failed and len(res.loaded) == 16
    first = counts(driver)
    ws = Workspace(tmp_path / "ws").create()
    ingest(ws, case / "dumps", date_order=SIM_ORDER)
    expected = ws.sessions()
    assert first["Session"] == len(expected) and first["HAD"] == len(expected) and first["CONTAINS"] == len(expected)
    assert first["Subscriber"] == 16 and first["Dump"] == 16
    assert first["OF_APP"] == int((expected["app"] != "").sum())
    again = ingest(graph, case / "dumps", date_order=SIM_ORDER)
    assert not again.loaded and len(again.unchanged) == 16
    assert counts(driver) == first
    got = graph.sessions()
    cols = ["session_key", "msisdn", "start_utc", "end_utc", "app", "app_vendor", "app_category", "dest_ip",
            "dest_port", "cell_id", "uplink", "downlink", "dump_sha256", "source_line"]
    want = expected.sort_values(["msisdn", "start_utc", "session_key"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[cols], want[cols], check_dtype=False)


def test_interrupted_load_recovers_exactly(graph, driver, case, monkeypatch):
    files = sorted((case / "dumps").glob("*.csv"))[:3]
    ingest(graph, *files, date_order=SIM_ORDER)
    clean = counts(driver)
    wipe(driver)
    graph.create_schema()
    original = store_mod.GraphDumpWriter._send
    calls = {"n": 0}

    def dying(self, f):
        calls["n"] += 1
        if calls["n"] == 3:
            raise GraphError("simulated crash in the middle of a dump")
        return original(self, f)

    monkeypatch.setattr(store_mod, "BATCH", 500)
    monkeypatch.setattr(store_mod.GraphDumpWriter, "_send", dying)
    broken = ingest(graph, *files, date_order=SIM_ORDER)
    assert broken.failed
    partial = driver.execute_query("MATCH (d:Dump) WHERE d.complete = false RETURN count(d) AS c").records[0]["c"]
    assert partial == 1
    monkeypatch.setattr(store_mod.GraphDumpWriter, "_send", original)
    ingest(graph, *files, date_order=SIM_ORDER)
    assert counts(driver) == clean


def test_differential_against_embedded_engine(graph, driver, case, tmp_path):
    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    # Hand-made ties at the window edge, same-second starts and a call signature on top.
    rows = make_sessions(0)
    extra = pd.DataFrame([
        {**_row("919900000001", "2024-03-05 10:00:00", "157.240.1.1", 5222)},
        {**_row("919900000002", "2024-03-05 10:03:00", "157.240.1.1", 443)},
        {**_row("919900000003", "2024-03-05 10:03:01", "157.240.1.1", 443)},
        {**_row("919900000003", "2024-03-05 10:00:00", "157.240.1.1", 443)},
        {**_row("919900000001", "2024-03-05 12:00:00", "157.240.9.9", 3478, dur=300)},
        {**_row("919900000002", "2024-03-05 12:00:03", "157.240.9.9", 3478, dur=298)},
        # A second day each: pairs observed together on fewer than two days are not scored.
        *[_row(m, "2024-03-06 08:00:00", "8.8.8.8", 80) for m in ("919900000001", "919900000002", "919900000003")],
    ])
    for m, part in extra.groupby("msisdn"):
        (tmp_path / f"x{m}.csv").write_text(render(pd.concat([rows, part]), "paper"))
    ingest(graph, *sorted(tmp_path.glob("x*.csv")), date_order=SIM_ORDER)
    frame = graph.sessions()
    for params in (LinkParams(), LinkParams(window_s=60, burst_gap_s=0), LinkParams(mode="overlap", colocation=False),
                   LinkParams(apps=["Meta"], calls=False)):
        emb = (link(frame, params, coverage=Coverage.from_reports(graph.reports()))
               .edges.sort_values(["a", "b"]).reset_index(drop=True))
        neo = link_neo4j(driver, params, case=CASE).edges.sort_values(["a", "b"]).reset_index(drop=True)
        assert len(emb) > 20
        pd.testing.assert_frame_equal(neo, emb, check_exact=False, rtol=1e-9)
    e = emb.set_index(["a", "b"])
    assert ("919900000001", "919900000002") in e.index
    co = counts(driver)["CO_USED"]
    assert co == int(neo["link"].sum()) > 0  # only links become relationships
    assert counts(driver)["Episode"] == 0


def _row(msisdn: str, start: str, ip: str, port: int, dur: int = 20) -> dict:
    t = pd.Timestamp(start)
    return {"msisdn": msisdn, "imsi": "404700000000009", "imei": "353456012345670", "start": t,
            "end": t + pd.Timedelta(seconds=dur), "src_ip": "10.0.0.1", "src_port": 40000, "public_ip": "100.64.0.1",
            "public_port": 50000, "dest_ip": ip, "dest_port": port, "cell_id": "404-70-1-9", "uplink": 1000,
            "downlink": 1000}


def test_analyst_queries(graph, driver, case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    shared = make_sessions(3, msisdn="919911111111", seed=9)
    shared["imei"] = graph.sessions()["imei"].iloc[0]  # one phone, two numbers
    (tmp_path / "shared.csv").write_text(render(shared, "paper"))
    ingest(graph, tmp_path / "shared.csv")
    edges = link_neo4j(driver, LinkParams(), case=CASE).edges
    top = edges[edges["link"]].iloc[0]
    env = ["--neo4j", URI, "--case", CASE]
    for name, params in [
        ("strongest_links", ["limit=5"]),
        ("suspect_network", [f"msisdn={top['a']}", "hops=2", "min_score=1"]),
        ("common_contacts", [f"a={top['a']}", f"b={top['b']}", "min_score=0"]),
        ("shared_equipment", []),
        ("timeline", [f"msisdn={top['a']}", "app=whatsapp"]),
        ("link_sessions", [f"a={top['a']}", f"b={top['b']}", "window_s=180"]),
    ]:
        code, out, err = run_cli(capsys, *env, "query", name, *[x for p in params for x in ("-p", p)],
                                 "--csv", str(tmp_path / f"{name}.csv"))
        assert code == 0, err
        rows = (pd.read_csv(tmp_path / f"{name}.csv", dtype=str) if (tmp_path / f"{name}.csv").stat().st_size > 1
                else pd.DataFrame())
        if name in ("strongest_links", "suspect_network", "timeline", "link_sessions"):
            assert len(rows) > 0, name
        if name == "strongest_links":
            assert (rows.iloc[0]["a"], rows.iloc[0]["b"]) == (top["a"], top["b"])
        if name == "shared_equipment":
            assert "device" in set(rows["shared"]) and "919911111111" in set(rows["a"]) | set(rows["b"])


def test_cli_errors_when_neo4j_down_or_password_wrong(capsys, monkeypatch, driver):
    monkeypatch.setenv("NEO4J_PASSWORD", "definitely-wrong")
    code, _, err = run_cli(capsys, "--neo4j", URI, "dumps")
    assert code == 1 and err.splitlines()[0] == f"error: Neo4j at {URI} refused the credentials for user 'neo4j'"
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    code, _, err = run_cli(capsys, "--neo4j", "bolt://127.0.0.1:1", "dumps")
    assert code == 1 and err.splitlines()[0] == "error: cannot reach Neo4j at bolt://127.0.0.1:1"
    assert err.splitlines()[1].startswith("hint: start Neo4j (scripts/neo4j-local start)")


def test_a_query_past_the_memory_limit_is_one_clear_error_and_not_retried(driver, monkeypatch):
    """Neo4j's refusal of transaction memory (a transient error the driver retried for 30 s, ending
    in a traceback) is a GraphMemoryError at once, with the hint that says what to change."""
    import cdrnet.graph.connection as conn
    from cdrnet.errors import GraphMemoryError

    limit = conn.transaction_memory_limit(driver)
    assert conn.setting_bytes("716.80MiB") == int(716.8 * 2**20) and conn.setting_bytes("0B") == 0
    assert limit > 0, "the tests' Neo4j sets a transaction memory limit (scripts/neo4j-local: 70 % of the heap)"
    slept: list[float] = []
    monkeypatch.setattr(conn.time, "sleep", slept.append)
    with pytest.raises(GraphMemoryError) as got:  # a list of twice the limit's bytes in 8-byte numbers
        conn.read_text(driver, "UNWIND range(1, $n) AS x WITH collect(x) AS l RETURN size(l) AS n",
                       {"n": limit // 4}, name="memory_probe")
    assert str(got.value).startswith("Neo4j refused the memory memory_probe.cypher needs: ")
    assert "dbms.memory.transaction.total.max" in str(got.value) and slept == []
    assert got.value.hint.startswith("give Neo4j a larger heap (server.memory.heap.max_size")
    assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1  # the server is still fine


def test_cli_ingest_link_and_commands_on_neo4j(graph, capsys, case, tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    env = ["-w", str(tmp_path / "ws"), "--neo4j", URI]
    code, out, err = run_cli(capsys, *env, "ingest", "--date-order", SIM_ORDER, str(case / "dumps"))
    assert code == 0, err and "Neo4j" in out
    code, out, err = run_cli(capsys, *env, "link", "--out", str(tmp_path / "neo_edges.csv"))
    assert code == 0, err
    assert "links written as CO_USED relationships to Neo4j" in out and "(case 'ws')" in out
    steps = next(line for line in out.splitlines() if "Neo4j time by step:" in line)
    assert "episodes, bins and matches of every channel (one read)" in steps and "writing CO_USED" in steps
    ws_env = ["-w", str(tmp_path / "ws2")]
    run_cli(capsys, *ws_env, "ingest", "--date-order", SIM_ORDER, str(case / "dumps"))
    run_cli(capsys, *ws_env, "link", "--out", str(tmp_path / "ws_edges.csv"))
    a = (pd.read_csv(tmp_path / "neo_edges.csv", dtype={"a": str, "b": str})
         .sort_values(["a", "b"]).reset_index(drop=True))
    b = (pd.read_csv(tmp_path / "ws_edges.csv", dtype={"a": str, "b": str})
         .sort_values(["a", "b"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)
    m = a.iloc[0]["a"]
    for cmd in (["profile", m, "--out", str(tmp_path / "p")], ["trends", m, "--out", str(tmp_path / "t")],
                ["map", "--out", str(tmp_path / "m.html")], ["pair", a.iloc[0]["a"], a.iloc[0]["b"]]):
        code, out_neo, err = run_cli(capsys, *env, *cmd)
        assert code == 0, err
        code, out_ws, err = run_cli(capsys, *ws_env, *cmd)
        assert code == 0, err
        if cmd[0] in ("profile", "pair"):
            def strip(text: str) -> list[str]:
                return [line for line in text.splitlines()
                        if "Execution time" not in line and "written" not in line and not line.startswith("store: ")]

            assert strip(out_neo) == strip(out_ws)
    # One clock on Neo4j too: the case's zone comes from the Dump nodes, times shown say it.
    code, out, err = run_cli(capsys, *env, "dumps", "-v")
    assert code == 0, err
    assert "times in Asia/Kolkata (the case's zone)" in out
    assert re.search(r"ingested \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Kolkata by cdrnet", out)
    pair = [a.iloc[0]["a"], a.iloc[0]["b"]]
    assert run_cli(capsys, *env, "evidence", *pair, "--out", str(tmp_path / "ev_neo"))[0] == 0
    assert run_cli(capsys, *ws_env, "evidence", *pair, "--out", str(tmp_path / "ev_ws"))[0] == 0
    name = f"evidence_{pair[0]}_{pair[1]}.csv"
    ev_neo, ev_ws = (pd.read_csv(tmp_path / d / name, dtype=str) for d in ("ev_neo", "ev_ws"))
    pd.testing.assert_frame_equal(ev_neo, ev_ws)
    assert set(ev_neo["zone"]) == {"Asia/Kolkata"}


def _cousage_statement() -> tuple[str, dict]:
    """The co-usage statement of every channel (one read) with settings like a link run's."""
    from cdrnet.analysis.units import cypher_definitions
    from cdrnet.cypher import query_chain

    channels = {"messaging": {"gap": 60, "window": 180, "overlap": False, "bucket": 180, "tight": 30,
                              "tight_coarse": 90, "call_filter": False},
                "call": {"gap": -1, "window": 5, "overlap": False, "bucket": 5, "tight": 30, "tight_coarse": 90,
                         "call_filter": True},
                "coloc": {"gap": 60, "window": 180, "overlap": False, "bucket": 180, "tight": 30, "tight_coarse": 90,
                          "call_filter": False}}
    params = {"case": CASE, "since": None, "until": None, "msisdns": [], "tol": 0.25, "offset": 19800,
              "apps": None, "record_end_dumps": [], "record_volume_dumps": [], "end_stand_in": 0, "cdr_periods": {},
              "channels": channels, "stored": True, "generation": "g", "slice": None, "codes": {},
              **cypher_definitions("min_tol_s", "mirror", "messaging_categories", "call_ports", "call_protos",
                                   "call_categories")}
    return query_chain(["episodes_sessions", "episodes_match"], params)


def test_cousage_query_plan_reads_only_and_has_no_cartesian_product(graph, driver, case):
    """Every channel in one read: no operator writes (episodes are rows, not nodes: nothing goes
    through the transaction log) and none pairs every episode of a service with every other."""
    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    driver.execute_query("CALL db.clearQueryCaches()")
    # All channels from one read of the sessions (each session is read once, whatever the channels).
    text, p = _cousage_statement()
    with driver.session() as s:
        summary = s.run("EXPLAIN " + text, p).consume()
    ops, details, todo = [], [], [summary.plan]
    while todo:
        node = todo.pop()
        ops.append(node["operatorType"].split("@")[0])
        details.append(str(node.get("args", {}).get("Details", "")))
        todo.extend(node.get("children", []))
    assert "CartesianProduct" not in ops
    assert not [o for o in ops if o.startswith(("Create", "Delete", "DetachDelete", "Merge", "Set", "Remove"))], ops
    assert summary.query_type == "r"  # read only
    # The sessions are read once: one expansion to them, no scan of every session (the call
    # channel's OR once scanned them twice).
    assert ops.count("Expand(All)") == 1, ops
    assert not [(o, d) for o, d in zip(ops, details, strict=True) if o.startswith("Node") and ":Session" in d]
    assert counts(driver)["Episode"] == 0


def test_cousage_profile_parts_are_valid_cypher(driver):
    """bench/cypher_parts.py cuts the co-usage statement after each step to time it: every part
    still parses and plans (the cuts follow the Cypher files' lines), and each is a real prefix."""
    from bench.cypher_parts import parts

    text, p = _cousage_statement()
    cut = parts(text)
    assert list(cut) == ["walk", "read", "units", "sorted", "episodes", "bins", "matches", "sweep_sort",
                         "sweep_pairs", "full"]
    assert cut["full"] == text
    for name, part in cut.items():
        with driver.session() as s:
            summary = s.run("EXPLAIN " + part, p).consume()
        assert summary.query_type == "r", name
        assert name == "full" or len(part) < len(text), name


def test_killed_neo4j_ingest_then_rerun_equals_clean_load(graph, driver, case, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "NEO4J_PASSWORD": PASSWORD}
    env.pop("NEO4J_URI", None)
    args = [sys.executable, "-m", "cdrnet", "-q", "-w", str(tmp_path / "ws"), "--neo4j", URI, "ingest",
            "--date-order", SIM_ORDER, str(case / "dumps")]
    assert subprocess.run(args, env=env, capture_output=True).returncode == 0
    clean = counts(driver)
    wipe(driver)
    p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Killed once the first sessions are in the database and before the last: a fixed pause either
    # killed it before it wrote anything or, on a fast machine, after it had finished.
    written, deadline = 0, time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        written = driver.execute_query("MATCH (s:Session) RETURN count(s) AS c").records[0]["c"]
        if written:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert 0 < written < clean["Session"], (written, clean["Session"])  # killed half way
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert counts(driver) == clean


def test_tests_refuse_a_database_holding_data_they_did_not_create(driver):
    """The scratch marker is made only in an empty database; foreign data is never wiped."""
    from cdrnet.errors import GraphError
    from cdrnet.graph.scratch import MARKER, claim

    wipe(driver)
    with driver.session() as s:  # pose as an analyst's database: no marker, one case node
        s.run(f"MATCH (m:{MARKER}) DELETE m").consume()
        s.run("CREATE (:Subscriber {msisdn: 'analyst-data'})").consume()
    try:
        with pytest.raises(GraphError, match="did not create"):
            claim(driver)
        left = driver.execute_query("MATCH (s:Subscriber {msisdn: 'analyst-data'}) RETURN count(s) AS c").records
        assert left[0]["c"] == 1
    finally:  # remove only what this test created, then take the empty database back
        driver.execute_query("MATCH (s:Subscriber {msisdn: 'analyst-data'}) DELETE s")
        claim(driver)


def test_cases_in_one_database_never_mix(graph, driver, case, tmp_path):
    """Case A alone and case A beside case B (other people, one shared number) give identical
    edges; each case's links, dumps and queries stay its own."""
    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    alone = link_neo4j(driver, LinkParams(), case=CASE).edges.sort_values(["a", "b"]).reset_index(drop=True)
    co_alone = counts(driver)["CO_USED"]
    other = tmp_path / "other"
    simulate(build_scenario("easy", subscribers=12, days=4, seed=9), other)
    files = sorted((other / "dumps").glob("*.csv"))
    shared = graph.sessions()["msisdn"].iloc[0]
    (tmp_path / "shared.csv").write_text(render(make_sessions(30, msisdn=shared, seed=4, start="2024-03-05 09:00:00"),
                                                "paper"))
    b = GraphStore(driver, tmp_path / "rejects-b", case="test-neo4j-b")
    ingest(b, *files, tmp_path / "shared.csv", date_order=SIM_ORDER)
    link_neo4j(driver, LinkParams(), case="test-neo4j-b")
    beside = link_neo4j(driver, LinkParams(), case=CASE).edges.sort_values(["a", "b"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(beside, alone)
    assert len(graph.reports()) == 16 and len(b.reports()) == len(files) + 1
    assert set(graph.sessions()["msisdn"]).isdisjoint(set(b.sessions()["msisdn"]) - {shared})
    per_case = {r["case"]: r["c"] for r in driver.execute_query(
        "MATCH ()-[r:CO_USED]->() RETURN r.case AS case, count(r) AS c").records}
    assert per_case[CASE] == co_alone == int(alone["link"].sum())
    assert per_case["test-neo4j-b"] > 0
    assert driver.execute_query("MATCH (s:Subscriber {msisdn: $m}) RETURN count(s) AS c", m=shared).records[0]["c"] == 2


def test_a_partial_link_run_replaces_only_what_it_recomputes(graph, driver, case):
    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    full = link_neo4j(driver, LinkParams(), case=CASE).edges
    links = full[full["link"]]
    some = sorted(set(links.iloc[0][["a", "b"]]))
    link_neo4j(driver, LinkParams(), msisdns=some, case=CASE)
    assert counts(driver)["CO_USED"] == len(links)  # links between other subscribers survive


def test_device_imei14_joins_check_digit_and_software_version(graph, driver, tmp_path):
    a = make_sessions(5, msisdn="919922222221", seed=1)
    a["imei"] = "353456012345671"  # 15 digits: TAC + serial + check digit
    b = make_sessions(5, msisdn="919922222222", seed=2)
    b["imei"] = "3534560123456702"  # 16 digits: TAC + serial + software version
    for name, f in (("a.csv", a), ("b.csv", b)):
        (tmp_path / name).write_text(render(f, "paper"))
    ingest(graph, tmp_path / "a.csv", tmp_path / "b.csv", date_order=SIM_ORDER)
    rows = driver.execute_query("MATCH (d:Device {case: $case}) RETURN d.imei14 AS i ORDER BY i", case=CASE).records
    assert [r["i"] for r in rows] == ["35345601234567", "35345601234567"]


def test_one_score_on_a_mixed_case_neo4j_equals_embedded(graph, driver, tmp_path):
    """A real-case shape (Jio part files, Airtel with record-level ends and volumes, Vi, the
    paper's layout, each dump its own period): Neo4j and the embedded engine give one score."""
    sc = build_scenario("realistic", seed=3, subscribers=14, days=6, excel_share=0.0, short_dumps=0)
    simulate(sc, tmp_path / "mixed")
    ingest(graph, tmp_path / "mixed" / "dumps", date_order=SIM_ORDER)
    reports = graph.reports()
    assert {"jio", "airtel", "vi"} <= {r.layout for r in reports}
    assert any(r.end_scope == "record" for r in reports)
    cov = Coverage.from_reports(reports)
    frame = graph.sessions()
    for params in (LinkParams(), LinkParams(mode="overlap", colocation=False)):
        emb = link(frame, params, coverage=cov).edges.sort_values(["a", "b"]).reset_index(drop=True)
        neo = link_neo4j(driver, params, case=CASE).edges.sort_values(["a", "b"]).reset_index(drop=True)
        assert len(emb) > 10
        pd.testing.assert_frame_equal(neo, emb, check_exact=False, rtol=1e-9)
    # Both runs built their episodes from the stored units, Airtel's record-level ends and volumes included.
    units = _units(driver)
    assert set(units) == set(frame["msisdn"]) and all(u["usable"] for u in units.values())


def test_time_slices_give_the_same_edges_and_a_refusal_cuts_again(graph, driver, tmp_path, monkeypatch):
    """A case cut into time slices (as when one co-usage statement would pass Neo4j's memory limit)
    scores exactly as one statement: both modes, other windows, from stored units and from the
    sessions, with CDR calls adding cells; a statement Neo4j refuses runs again in more slices."""
    import cdrnet.graph.cousage as cousage
    from cdrnet.errors import GraphMemoryError

    simulate(build_scenario("realistic_calls", subscribers=10, days=5, seed=4), tmp_path / "case")
    ingest(graph, tmp_path / "case" / "dumps", date_order=SIM_ORDER)
    assert graph.reports() and len(graph.sessions()) > 5000
    for params in (LinkParams(), LinkParams(mode="overlap", colocation=False), LinkParams(window_s=60, burst_gap_s=0)):
        one = _sorted_edges(link_neo4j(driver, params, case=CASE, write_edges=False, slices=1))
        assert one["coloc_obs"].sum() > 0 if params.colocation else len(one) > 10
        for n, stored in ((3, True), (50, True), (7, False)):
            cut = link_neo4j(driver, params, case=CASE, write_edges=False, slices=n, stored_units=stored)
            pd.testing.assert_frame_equal(_sorted_edges(cut), one)
    emb = link(graph.sessions(), LinkParams(), coverage=graph.coverage(), calls=graph.calls())
    assert len(graph.calls()) > 100
    pd.testing.assert_frame_equal(
        _sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, slices=50)),
        _sorted_edges(emb), check_exact=False, rtol=1e-9)
    # The first guess: one statement while the sessions' guessed memory fits the limit.
    assert cousage._first_slices(10**6, 3 * 2**30) == 1 and cousage._first_slices(10**6, 0) == 1
    assert cousage._first_slices(3 * 10**6, 10**9) == 3
    assert cousage._first_slices(10**9, 10**6) == cousage.MAX_SLICES
    # A refused statement (GraphMemoryError, as the server's limit gives: tested above) runs again in
    # twice as many slices until none is refused: the edges are the same.
    asked: list = []
    real = cousage._episodes

    def refuse_big(drv, db, p, channels, timed):  # noqa: ANN001, ANN202 - _episodes' shape
        asked.append(p["slice"])
        if p["slice"] is None or len(asked) < 4:
            raise GraphMemoryError("refused (test)")
        return real(drv, db, p, channels, timed)

    monkeypatch.setattr(cousage, "_episodes", refuse_big)
    again = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    # Refused: the whole, the first of two slices, the first of four; then all eight ran, end to end.
    assert asked[0] is None and len(asked) == 3 + 8
    assert asked[3][0] == -(1 << 62) and asked[-1][1] == 1 << 62
    assert all(asked[i][1] == asked[i + 1][0] for i in range(3, 10))
    pd.testing.assert_frame_equal(_sorted_edges(again), _sorted_edges(emb), check_exact=False, rtol=1e-9)
    with pytest.raises(GraphMemoryError):  # a forced number of slices is not cut further
        link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, slices=1)


def _units(driver) -> dict[str, dict]:
    """The case's stored co-usage units (cypher/units_build.cypher) per subscriber (not the case's
    generation node, msisdn '')."""
    recs = driver.execute_query("MATCH (u:CoUsageUnits {case: $case}) WHERE u.msisdn <> '' "
                                "RETURN u.msisdn AS m, properties(u) AS p", {"case": CASE}).records
    return {r["m"]: r["p"] for r in recs}


def _sorted_edges(res) -> pd.DataFrame:  # noqa: ANN001 - a LinkResult
    return res.edges.sort_values(["a", "b"]).reset_index(drop=True)


def test_stored_units_give_the_same_edges_and_every_load_drops_them(graph, driver, case):
    """The first run stores each subscriber's co-usage units and builds its episodes from them;
    later runs (other windows and modes too) read them instead of the sessions. Edges equal those
    built from the sessions and the embedded engine's; a load and a forget drop the units."""
    files = sorted((case / "dumps").glob("*.csv"))
    ingest(graph, *files[:-2], date_order=SIM_ORDER)
    live = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, stored_units=False)
    assert not _units(driver)  # a run from the sessions writes nothing before its edges
    first = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    assert "co-usage units (built once after each load)" in first.steps
    units = _units(driver)
    assert set(units) == set(graph.sessions()["msisdn"]) and all(u["usable"] for u in units.values())
    assert all(u["sessions"] > 0 and len(u["c_t"]) > 0 for u in units.values())
    assert all(u["m_t"] == sorted(u["m_t"]) or len(set(u["m_key"])) > 1 for u in units.values())
    again = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    assert _units(driver) == units  # nothing rebuilt
    assert len(live.edges) > 20
    for res in (first, again):
        pd.testing.assert_frame_equal(_sorted_edges(res), _sorted_edges(live))
    for params in (LinkParams(window_s=60, burst_gap_s=0), LinkParams(mode="overlap", colocation=False)):
        pd.testing.assert_frame_equal(_sorted_edges(link_neo4j(driver, params, case=CASE, write_edges=False)),
                                      _sorted_edges(link_neo4j(driver, params, case=CASE, write_edges=False,
                                                               stored_units=False)))
    assert _units(driver) == units
    # A time scope reads the sessions (the units are of every session) and leaves the units alone.
    start = pd.to_datetime(graph.sessions()["start_utc"], utc=True)
    scoped = LinkParams(since=start.quantile(0.5).floor("h"))
    assert "co-usage units (built once after each load)" not in link_neo4j(driver, scoped, case=CASE,
                                                                          write_edges=False).steps
    ingest(graph, *files[-2:], date_order=SIM_ORDER)
    assert not _units(driver)
    after = link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    assert len(_units(driver)) == len(units) + 2
    emb = link(graph.sessions(), LinkParams(), coverage=Coverage.from_reports(graph.reports()))
    pd.testing.assert_frame_equal(_sorted_edges(after), _sorted_edges(emb), check_exact=False, rtol=1e-9)
    graph.forget_dump(graph.reports()[0].sha256)
    assert not _units(driver)


def test_stale_or_unstorable_units_are_not_read(graph, driver, case, monkeypatch):
    """Units that no longer match their subscriber's sessions are rebuilt by the next run and never
    read meanwhile; a unit without a key (which a Neo4j list cannot hold) keeps its subscriber on
    its sessions. Either way the edges are those built from the sessions."""
    import cdrnet.graph.cousage as cousage_mod

    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    live = _sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, stored_units=False))
    link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    units = _units(driver)
    m = max(units, key=lambda k: len(units[k]["m_t"]))
    spoil = ("MATCH (u:CoUsageUnits {case: $case, msisdn: $m}) "
             "SET u.sessions = u.sessions + 1, u.m_t = [x IN u.m_t | x + 100000], u.c_t = [x IN u.c_t | x + 100000]")
    driver.execute_query(spoil, {"case": CASE, "m": m})
    # Read guard alone: with the build step switched off, the spoilt set is not read.
    real = cousage_mod.run_auto
    monkeypatch.setattr(cousage_mod, "run_auto", lambda *_a, **_k: [])
    pd.testing.assert_frame_equal(_sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)),
                                  live)
    monkeypatch.setattr(cousage_mod, "run_auto", real)
    pd.testing.assert_frame_equal(_sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)),
                                  live)
    assert _units(driver)[m] == units[m]  # rebuilt
    # A unit without a key (here a messaging session without its service, which no load writes)
    # cannot be stored in a list: the subscriber's set says so and is never read.
    from cdrnet.analysis.units import cypher_definitions
    from cdrnet.graph.connection import run_auto

    driver.execute_query("MATCH (:Subscriber {case: $case, msisdn: $m})-[:HAD]->(x:Session) "
                         "WHERE x.service IS NOT NULL AND x.app_category IN $cats WITH x LIMIT 1 REMOVE x.service",
                         {"case": CASE, "m": m, "cats": units[m]["cats"]})
    driver.execute_query("MATCH (u:CoUsageUnits {case: $case, msisdn: $m}) SET u.sessions = -1", {"case": CASE, "m": m})
    run_auto(driver, "units_build", {"case": CASE, "msisdns": [m], "messaging_categories": units[m]["cats"],
                                     "generation": units[m]["generation"],
                                     **cypher_definitions("call_ports", "call_protos", "call_categories")})
    assert _units(driver)[m]["usable"] is False and _units(driver)[m]["sessions"] == units[m]["sessions"]


@pytest.mark.parametrize("prop, other", [("call_ports", [3478, 3480]), ("call_protos", ["udp"]),
                                         ("call_categories", ["voip"]), ("cats", ["messaging", "web"])])
def test_units_of_other_definitions_are_not_read(graph, driver, case, monkeypatch, prop, other):
    """Units record the definitions they were built for (messaging categories, call ports, protocols
    and categories): units whose definitions differ from the run's are not read (their spoilt times
    would change the edges) and the next build replaces them."""
    import cdrnet.graph.cousage as cousage_mod

    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    live = _sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, stored_units=False))
    link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)
    units = _units(driver)
    assert all(u[prop] == _units_params()["messaging_categories" if prop == "cats" else prop]
               for u in units.values())
    assert all(u[prop] != other for u in units.values())
    driver.execute_query(f"MATCH (u:CoUsageUnits {{case: $case}}) WHERE u.msisdn <> '' SET u.{prop} = $other, "
                         "u.m_t = [x IN u.m_t | x + 100000], u.c_t = [x IN u.c_t | x + 100000], "
                         "u.k_t = [x IN u.k_t | x + 100000]", {"case": CASE, "other": other})
    real = cousage_mod.run_auto
    monkeypatch.setattr(cousage_mod, "run_auto", lambda *_a, **_k: [])  # no build: the read guard alone
    pd.testing.assert_frame_equal(_sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)),
                                  live)
    monkeypatch.setattr(cousage_mod, "run_auto", real)
    pd.testing.assert_frame_equal(_sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)),
                                  live)
    assert _units(driver) == units  # rebuilt for the run's definitions


def test_scoped_link_neo4j_equals_embedded(graph, driver, tmp_path):
    """Under a time scope, the subscribers scored (an existence check per subscriber, stopping at
    its first session in scope) and their messaging session counts (summed from the messaging
    bins, not a second read of the sessions) equal the embedded engine's, edge for edge."""
    from cdrnet.graph.cousage import scope_subscribers

    sc = build_scenario("realistic", seed=5, subscribers=12, days=6, excel_share=0.0, short_dumps=0)
    simulate(sc, tmp_path / "scoped")
    ingest(graph, tmp_path / "scoped" / "dumps", date_order=SIM_ORDER)
    cov = Coverage.from_reports(graph.reports())
    frame = graph.sessions()
    start = pd.to_datetime(frame["start_utc"], utc=True)
    since, until = start.quantile(0.3).floor("h"), start.quantile(0.7).ceil("h")
    inside = (start >= since) & (start < until)
    in_scope = sorted(frame.loc[inside, "msisdn"].unique())
    assert 0 < len(in_scope)
    # Someone with sessions only outside the scope is not scored (nor counted as a subscriber).
    outside = sorted(set(frame["msisdn"]) - set(in_scope))
    params = LinkParams(since=since, until=until)
    emb = link(frame[inside], params, coverage=cov)  # the stores hand the embedded engine the scope's sessions
    neo = link_neo4j(driver, params, case=CASE, write_edges=False)
    assert neo.subscribers == emb.subscribers == len(in_scope)
    a = neo.edges.sort_values(["a", "b"]).reset_index(drop=True)
    b = emb.edges.sort_values(["a", "b"]).reset_index(drop=True)
    assert len(b) > 0 and (b["sessions_a"] > 0).any()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    assert scope_subscribers(driver, params, None, None, CASE) == in_scope
    asked = in_scope[:2] + outside[:1]
    assert scope_subscribers(driver, params, asked, None, CASE) == in_scope[:2]


def test_browser_model_links_evidence_summaries_and_queries(graph, driver, case, capsys, monkeypatch):
    """Issue 20: only links as CO_USED with evidence caption and band, run parameters apart,
    no Episode schema left, subscriber summaries, dumps tied to their subscriber, symmetric
    link_sessions, and `cdrnet query`'s defaults, normalisation and messages."""
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    edges = link_neo4j(driver, LinkParams(), case=CASE).edges
    links = edges[edges["link"]]
    q = lambda text, **p: [dict(r) for r in driver.execute_query(text, p).records]  # noqa: E731
    rels = q("MATCH ()-[r:CO_USED {case: $c}]->() RETURN r.evidence AS ev, r.strength AS band, "
             "r.window_s AS w, r.mode AS mode, r.run AS run", c=CASE)
    assert len(rels) == len(links) and all(r["ev"].startswith("msg ") or r["ev"].startswith("call ") for r in rels)
    assert {r["band"] for r in rels} <= {"strong", "medium", "weak"} and all(r["w"] is None and r["mode"] is None
                                                                             for r in rels)
    run = q("MATCH (r:LinkRun {case: $c}) RETURN r.run AS run, r.window_s AS w, r.links AS n", c=CASE)
    assert run == [{"run": rels[0]["run"], "w": 180, "n": len(links)}]
    schema = q("SHOW INDEXES YIELD name RETURN name") + q("SHOW CONSTRAINTS YIELD name RETURN name")
    assert not [s for s in schema if s["name"].startswith("episode")]
    assert q("MATCH (e:Episode) RETURN count(e) AS c")[0]["c"] == 0
    sub = q("MATCH (s:Subscriber {case: $c}) WITH s LIMIT 1 RETURN s.msisdn AS m, s.sessions AS n, "
            "s.first_seen < s.last_seen AS ordered, size(s.applications) > 0 AS apps, "
            "COUNT { (s)-[:USED_APP]->(:Application) } AS used, COUNT { (:Dump)-[:OF_SUBSCRIBER]->(s) } AS dumps",
            c=CASE)[0]
    assert sub["n"] == q("MATCH (:Subscriber {case: $c, msisdn: $m})-[:HAD]->(x) RETURN count(x) AS c",
                         c=CASE, m=sub["m"])[0]["c"]
    assert sub["ordered"] and sub["apps"] and sub["used"] > 0 and sub["dumps"] == 1
    assert q("MATCH (x:Session {case: $c}) WHERE x.public_ip IS NOT NULL RETURN count(x) > 0 AS ok", c=CASE)[0]["ok"]
    top = links.iloc[0]
    env = ["--neo4j", URI, "--case", CASE]
    outs = []
    for a, b in ((top["a"], top["b"]), (top["b"], top["a"])):
        code, out, err = run_cli(capsys, *env, "query", "link_sessions", "-p", f"a={a}", "-p", f"b=+{b}")
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1] and "messaging" in outs[0] and ".csv" in outs[0]  # symmetric, file names shown
    code, out, err = run_cli(capsys, *env, "query", "strongest_links")  # limit from the documented default
    assert code == 0 and len(out.strip().splitlines()) == 1 + 1 + min(25, len(links))
    national = top["a"][2:]  # 10 digits, as an analyst types it
    code, out, err = run_cli(capsys, *env, "query", "suspect_network", "-p", f"msisdn={national}")
    assert code == 0 and top["b"] in out
    code, out, err = run_cli(capsys, *env, "query", "suspect_network", "-p", f"msisdn={national}", "-p", "hops=5")
    assert code != 0 and "hops 5 is outside 1..4" in err
    code, out, err = run_cli(capsys, *env, "query", "timeline", "-p", "msisdn=919000000999", "-p", "app=whatsapp")
    assert code != 0 and "unknown subscriber 919000000999 in case" in err
    code, out, err = run_cli(capsys, *env, "query", "suspect_network", "-p", f"msisdn={national}", "-p", "hop=2")
    assert code != 0 and "has no parameter 'hop'" in err and "hint: its parameters: hops, min_score, msisdn" in err
    code, out, err = run_cli(capsys, *env, "query", "mark_suspect", "-p", f"msisdn={top['a']}")
    assert code == 0 and q("MATCH (s:Suspect {case: $c}) RETURN s.msisdn AS m", c=CASE) == [{"m": top["a"]}]


def test_link_sessions_query_seeks_two_people_not_the_service(graph, driver):
    from cdrnet.cypher import load

    with driver.session() as s:
        plan = s.run("EXPLAIN " + load("queries/link_sessions"),
                     {"case": CASE, "a": "1", "b": "2", "window_s": 180, "call_window_s": 5,
                      "limit": 10}).consume().plan
    text = str(plan)
    assert "session_case_msisdn_start_s" in text or "Session(case, msisdn, start_s)" in text
    assert "NodeByLabelScan" not in text and "AllNodesScan" not in text


#: Queries that read every node of a label in a case by design (a whole case's dumps, runs, links or
#: subscribers): no index narrows them. Every other query starts from an index.
WHOLE_LABEL_READS = {"dumps_list", "dumps_incomplete", "link_run_latest", "link_runs", "subscribers_in_scope",
                     "subscribers_outside",
                     "queries/cases", "queries/clear_suspects", "queries/network", "queries/strongest_links",
                     "queries/one_network"}


def _index_uses(driver, text: str) -> tuple[set[tuple[str, str]], list[str]]:
    """The (label, properties) of every index a statement's plan reads, and its operators (with their
    details for the scans)."""
    with driver.session() as s:
        plan = s.run("EXPLAIN " + text).consume().plan
    used, ops, todo = set(), [], [plan]
    while todo:
        node = todo.pop()
        op = node["operatorType"].split("@")[0]
        details = str(node.get("args", {}).get("Details", ""))
        ops.append(f"{op} {details}" if "Scan" in op else op)
        if "Index" in op:
            used |= set(re.findall(r"(?:INDEX|UNIQUE) \w+:(\w+)\(([^)]*)\)", details))
        todo.extend(node.get("children", []))
    return used, ops


def test_every_query_starts_from_an_index_and_every_session_index_is_used(graph, driver, case):
    """The schema keeps what the queries need and nothing else (docs/architecture.md, "Indexes"):
    every statement in cypher/ and cypher/queries/ (the episode chain is tested above) starts from an
    index unless it reads a whole label by design, and each Session index is used by some statement."""
    from pathlib import Path

    import cdrnet.cypher as cypher_pkg
    from cdrnet.cypher import load
    from cdrnet.graph.model import SESSION, node_key, session_read
    from cdrnet.graph.writes import load_sessions

    ingest(graph, case / "dumps", date_order=SIM_ORDER)
    folder = Path(cypher_pkg.__file__).parent
    names = sorted(f"{p.parent.name}/{p.stem}" if p.parent != folder else p.stem
                   for p in [*folder.glob("*.cypher"), *folder.glob("queries/*.cypher")])
    session_indexes: set[tuple[str, str]] = set()
    for name in names:
        if name.startswith("episodes_"):
            continue
        used, ops = _index_uses(driver, load(name))
        assert not [o for o in ops if o.startswith("AllNodesScan")], (name, ops)
        if name not in WHOLE_LABEL_READS:
            assert used, f"{name} reads no index: {ops}"
            # Sessions, the most numerous nodes, are never scanned outside a whole case's read.
            assert not [o for o in ops if o.startswith("NodeByLabelScan") and ":Session" in o], (name, ops)
        session_indexes |= {props for label, props in used if label == "Session"}
    for text in (session_read(), load_sessions()):
        session_indexes |= {props for label, props in _index_uses(driver, text)[0] if label == "Session"}
    declared = {", ".join(node_key(SESSION))} | {", ".join(("case", *props)) for props in SESSION.indexes}
    assert session_indexes == declared


def test_committed_browser_guide_is_generated_from_the_queries():
    from pathlib import Path

    from cdrnet.graph.browser_guide import guide_html

    committed = (Path(__file__).resolve().parents[1] / "cypher" / "browser-guide.html").read_text(encoding="utf-8")
    assert committed == guide_html(), (
        "regenerate cypher/browser-guide.html with cdrnet.graph.browser_guide.guide_html()")


def test_units_built_across_a_load_are_never_read_after_it(graph, driver, case):
    """A link run's unit build that read the sessions before a load and commits after the load's
    units_clear (a batch transaction straddling ``ingest --replace`` with another zone: the same
    session counts, other times) must not leave units the next runs read: their edges stay the
    sessions'."""
    from cdrnet.cypher import load
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures

    files = sorted((case / "dumps").glob("*.csv"))
    ingest(graph, *files, date_order=SIM_ORDER)
    cats = _units_params()
    m = graph.sessions()["msisdn"].iloc[0]
    # One batch of the build, held open: it reads the sessions as they are before the load.
    text = load("units_build").replace("IN TRANSACTIONS OF 50 ROWS", "")
    with driver.session() as s:
        tx = s.begin_transaction()
        tx.run(text, {"case": CASE, "msisdns": [m], **cats, "generation": _generation(driver)}).consume()
        opts = Options(tz="UTC", rules=load_signatures("modern"), date_order=SIM_ORDER)
        res = ingest_paths([str(p) for p in files], graph, builtin_layouts(), opts, "modern", show_progress=False,
                           replace=True)
        assert len(res.replaced) == len(files)
        tx.commit()
    live = _sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False, stored_units=False))
    assert len(live) > 20
    for _ in range(2):  # the run that meets the straddling units and the one after it
        pd.testing.assert_frame_equal(_sorted_edges(link_neo4j(driver, LinkParams(), case=CASE, write_edges=False)),
                                      live)


def _generation(driver) -> str:
    """The case's co-usage units generation as a link run reads it before its build."""
    from cdrnet.graph.connection import write

    return write(driver, "units_generation", {"case": CASE})[0]["generation"]


def _units_params() -> dict:
    """units_build's definitions (messaging categories and call units) as link_neo4j passes them."""
    from cdrnet.analysis.units import cypher_definitions, messaging_categories

    return {"messaging_categories": list(messaging_categories(False)),
            **cypher_definitions("call_ports", "call_protos", "call_categories")}
