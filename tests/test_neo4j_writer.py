"""The Bolt writer's two statements: CREATE for batches whose sessions cannot exist yet, MERGE otherwise.

Both must write the same graph; the CREATE path must never duplicate or lose a session that
another dump (a resend), an earlier interrupted run or a load beside this one wrote first.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.graph import store as store_mod
from cdrnet.graph.store import GraphStore, call_batch, session_batch
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from tests.conftest import SIM_ORDER, ingest

CASE = "test-writer"
OTHER = "test-writer-merge"


# --- positions of the per-batch lookups (no Neo4j) ---------------------------------------------

_value = st.one_of(st.none(), st.just(""), st.sampled_from(["a", "b", "404-70-1-2", "Ü", "0"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["9198", "9199", "0"]), _value, _value), min_size=1, max_size=40))
def test_each_row_names_its_subscriber_application_and_cell_by_position(values):
    f = pd.DataFrame(values, columns=["msisdn", "app", "cell_id"])
    f["session_key"] = [f"k{i}" for i in range(len(f))]
    f["app_vendor"] = f["app_category"] = ""
    for c in store_mod.SESSION.properties:
        if c not in f and c not in store_mod.SESSION_COMPUTED:
            f[c] = None
    f["start_utc"] = f["end_utc"] = pd.Timestamp("2024-01-01", tz="UTC")
    cols, lookups = session_batch(f)
    for name in ("subs", "apps", "cells"):
        assert len(set(lookups[name])) == len(lookups[name]) and "" not in lookups[name]
    assert {len(v) for v in cols.values()} == {len(f)}  # every column one value a session
    for i, (m, a, c) in enumerate(values):
        assert lookups["subs"][cols["sub_at"][i]] == m
        assert (lookups["apps"][cols["app_at"][i]] if cols["app_at"][i] is not None else "") == (a or "")
        assert (lookups["cells"][cols["cell_at"][i]] if cols["cell_at"][i] is not None else "") == (c or "")
        assert cols["p_msisdn"][i] == m and cols["key"][i] == f"k{i}"


def _complete_batch(f: pd.DataFrame, key: str, prefix: str, properties: tuple[str, ...],
                    computed: dict[str, str]) -> None:
    """Make ``f`` a batch the writer takes: keys ``prefix0``, ``prefix1``..., every other declared
    property missing, starts one second apart from 2024-01-01 UTC, ends missing."""
    f[key] = [f"{prefix}{i}" for i in range(len(f))]
    for c in properties:
        if c not in f and c not in computed:
            f[c] = None
    f["start_utc"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(range(len(f)), unit="s")
    f["end_utc"] = pd.Series(pd.NaT, index=f.index, dtype=f["start_utc"].dtype)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["9198", "9199"]), _value, st.one_of(st.none(), st.integers(0, 2**40)),
                          st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))),
                min_size=1, max_size=30))
def test_columns_carry_the_same_values_as_rows(values):
    """The writer's columns hold, session by session, exactly what the rows of the same batch hold
    (the LOAD CSV reference and earlier writers sent rows): same keys, same properties, same None."""
    f = pd.DataFrame(values, columns=["msisdn", "app", "uplink", "lat"])
    f["uplink"] = f["uplink"].astype("Int64")
    _complete_batch(f, "session_key", "k", store_mod.SESSION.properties, store_mod.SESSION_COMPUTED)
    cols = store_mod.session_columns(f)
    rows = store_mod.session_rows(f)
    assert cols["key"] == [r["key"] for r in rows]
    names = rows[0]["props"].keys()
    assert set(cols) == {"key"} | {f"p_{n}" for n in names}
    for n in names:
        assert cols[f"p_{n}"] == [r["props"][n] for r in rows], n
    assert cols["p_end_s"] == [None] * len(f) and cols["p_start_s"][0] == 1704067200


_party = st.one_of(st.none(), st.just(""), st.sampled_from(["919800000001", "919800000002", "18005550100"]))
_cell = st.one_of(st.none(), st.just(""), st.sampled_from(["404-70-1-2", "404-70-1-3", "Ü"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_party, _party, _cell, _cell, st.one_of(st.none(), st.integers(0, 10**6))),
                min_size=1, max_size=40))
def test_each_call_names_its_parties_and_cells_by_position(values):
    """``load_calls``'s columns: each call's caller and callee found at their positions in the
    batch's distinct numbers, its first and last cells in its distinct cells (None for none), and
    every declared property one value a call, times as epoch seconds."""
    f = pd.DataFrame(values, columns=["caller", "callee", "first_cell", "last_cell", "duration_s"])
    f["duration_s"] = f["duration_s"].astype("Int64")
    _complete_batch(f, "event_key", "e", store_mod.CALL.properties, store_mod.CALL_COMPUTED)
    cols = call_batch(f)
    for name in ("subs", "cells"):
        assert len(set(cols[name])) == len(cols[name]) and "" not in cols[name]
    per_call = {k: v for k, v in cols.items() if k not in ("subs", "cells")}
    assert {len(v) for v in per_call.values()} == {len(f)}
    assert set(per_call) == {"key", "caller_at", "callee_at", "first_at", "last_at"} | {
        f"p_{n}" for n in store_mod.CALL.properties}
    for i, (a, b, fc, lc, d) in enumerate(values):
        for at, names, want in (("caller_at", "subs", a), ("callee_at", "subs", b),
                                ("first_at", "cells", fc), ("last_at", "cells", lc)):
            pos = cols[at][i]
            assert (cols[names][pos] if pos is not None else "") == (want or ""), (at, i)
        assert cols["p_caller"][i] == a and cols["p_duration_s"][i] == d and cols["key"][i] == f"e{i}"
    assert cols["p_end_s"] == [None] * len(f) and cols["p_start_s"][0] == 1704067200


# --- against the real Neo4j ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("writer-case")
    simulate(build_scenario("easy", subscribers=4, days=3, seed=11), root)
    return root


def graph_of(driver, case: str) -> tuple[list, list]:
    """Every node and relationship of a case with all its properties but ``case`` and when the
    dump was loaded (sorted, comparable)."""
    left_out = ("case", "loaded_at", "ingested_at", "first_ingested_at")

    def clean(p: dict) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in p.items() if k not in left_out))

    nodes = driver.execute_query("MATCH (n {case: $case}) RETURN labels(n) AS l, properties(n) AS p",
                                 case=case).records
    rels = driver.execute_query("MATCH (a {case: $case})-[r]->(b {case: $case}) "
                                "RETURN type(r) AS t, properties(a) AS a, properties(r) AS r, properties(b) AS b",
                                case=case).records
    return (sorted((tuple(sorted(r["l"])), clean(r["p"])) for r in nodes),
            sorted((r["t"], clean(r["a"]), clean(r["r"]), clean(r["b"])) for r in rels))


def assert_same(got: tuple[list, list], want: tuple[list, list]) -> None:
    """Equal graphs; on a difference, a few differing entries (a full diff of thousands is unreadable)."""
    for g, w in zip(got, want, strict=True):
        only_g, only_w = sorted(set(g) - set(w))[:3], sorted(set(w) - set(g))[:3]
        assert g == w, (len(g), len(w), only_g, only_w)


@pytest.fixture
def paths(monkeypatch):
    """Which statement each session batch used (True: CREATE)."""
    used: list[bool] = []
    original = store_mod.load_sessions

    def spy(fresh: bool = False) -> str:
        used.append(fresh)
        return original(fresh)

    monkeypatch.setattr(store_mod, "load_sessions", spy)
    monkeypatch.setattr(store_mod, "BATCH", 211)  # several batches a dump, subscribers split across them
    return used


def merge_only(monkeypatch) -> None:
    monkeypatch.setattr(store_mod.GraphDumpWriter, "_fresh", lambda *_: False)


@pytest.mark.neo4j
def test_create_and_merge_write_the_same_graph(graph, driver, case, paths, monkeypatch):
    files = sorted((case / "dumps").glob("*.csv"))
    res = ingest(graph, *files, date_order=SIM_ORDER)
    assert not res.failed and len(res.loaded) == len(files)
    assert paths and all(paths)  # a first load: every batch CREATEd
    paths.clear()
    merge_only(monkeypatch)
    other = GraphStore(driver, graph.rejects_dir.parent / "other", case=OTHER)
    ingest(other, *files, date_order=SIM_ORDER)
    assert paths and not any(paths)
    fast, slow = graph_of(driver, CASE), graph_of(driver, OTHER)
    assert len(fast[0]) > 100 and len(fast[1]) > 400
    assert_same(fast, slow)


@pytest.mark.neo4j
def test_a_resend_is_merged_into_the_sessions_already_there(graph, driver, case, paths, monkeypatch, tmp_path):
    first = sorted((case / "dumps").glob("*.csv"))[0]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    resend = tmp_path / "resend.csv"  # the operator sends the later half again, with two more days
    resend.write_text("".join([lines[0], *lines[len(lines) // 2:]]), encoding="utf-8")
    part = tmp_path / "part.csv"
    part.write_text("".join(lines[: len(lines) * 3 // 4]), encoding="utf-8")
    ingest(graph, part, date_order=SIM_ORDER)
    assert all(paths)
    paths.clear()
    ingest(graph, resend, date_order=SIM_ORDER)
    assert False in paths  # the batches overlapping the first dump were MERGEd
    merge_only(monkeypatch)
    other = GraphStore(driver, tmp_path / "other", case=OTHER)
    ingest(other, part, date_order=SIM_ORDER)
    ingest(other, resend, date_order=SIM_ORDER)
    fast, slow = graph_of(driver, CASE), graph_of(driver, OTHER)
    shared = driver.execute_query("MATCH (s:Session {case: $case}) WHERE count{(s)<-[:CONTAINS]-()} = 2 "
                                  "RETURN count(s) AS c", case=CASE).records[0]["c"]
    assert shared > 0
    assert_same(fast, slow)


@pytest.mark.neo4j
def test_a_session_written_first_by_another_load_fails_the_batch_which_is_merged_again(
        graph, driver, case, paths, monkeypatch, tmp_path):
    """A load beside this one CREATEs the same sessions between the check and the write: the
    uniqueness constraint refuses the whole batch, which is written again by MERGE."""
    files = sorted((case / "dumps").glob("*.csv"))[:2]
    merge_only(monkeypatch)
    other = GraphStore(driver, tmp_path / "other", case=OTHER)
    ingest(other, *files, date_order=SIM_ORDER)
    want = graph_of(driver, OTHER)
    # This case already holds the first file's sessions, yet the writer is told they cannot exist.
    ingest(graph, files[0], date_order=SIM_ORDER)
    writers: list = []
    original_init = store_mod.GraphDumpWriter.__init__

    def init(self, *a, **k):
        original_init(self, *a, **k)
        writers.append(self)

    monkeypatch.setattr(store_mod.GraphDumpWriter, "__init__", init)
    monkeypatch.setattr(store_mod.GraphDumpWriter, "_fresh", lambda self, *_: self.fast)
    driver.execute_query("MATCH (d:Dump {case: $case}) SET d.complete = false", case=CASE)  # read it again
    paths.clear()
    res = ingest(graph, *files, date_order=SIM_ORDER)
    assert not res.failed and len(res.loaded) == 2
    assert paths[0] is True and writers[0].fast is False  # refused once, MERGE from then on
    assert_same(graph_of(driver, CASE), want)
