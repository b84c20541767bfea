"""The bulk import's column helpers (graph/bulk.py) against the slower forms they replace.

The node and relationship files must stay byte for byte what they were (the importer turns them
into the graph tests/test_neo4j_bulk.py compares with the Bolt writer's): each fast path is checked
against the general one on generated values, including nulls, line breaks and non-ASCII text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.errors import GraphError
from cdrnet.graph.bulk import ISO_UTC, NodeIds, NodeRef, _first_rows, _has_newline, _iso, _iso_text, _rel_table, _text

#: No deadline, as everywhere else in the suite: these take a few ms, but hypothesis' default 200 ms
#: deadline fails a run (DeadlineExceeded or "unreliable test timings") whenever a loaded CI machine
#: stalls one example, which says nothing about the code under test.
NO_DEADLINE = settings(deadline=None)

#: 1900-01-01 to 2100-01-01 UTC in seconds: any date a dump can state.
SECONDS = st.integers(min_value=-2_208_988_800, max_value=4_102_444_800)


@given(st.lists(st.one_of(st.none(), SECONDS), max_size=50))
@settings(NO_DEADLINE, max_examples=200)
def test_iso_text_is_strftime(values):
    ts = pa.array(values, pa.timestamp("s", tz="UTC"))
    want = pc.strftime(ts, format=ISO_UTC)
    assert _iso_text(ts).to_pylist() == want.to_pylist()
    # Milliseconds in whole seconds (how the workspace's Parquet keeps them) and chunked columns.
    ms = pa.chunked_array([pa.array([None if v is None else v * 1000 for v in values], pa.timestamp("ms", tz="UTC"))])
    assert _iso_text(pc.cast(ms, pa.timestamp("s", tz="UTC"))).to_pylist() == want.to_pylist()


@given(st.lists(st.one_of(st.none(), SECONDS), max_size=20))
@NO_DEADLINE
def test_iso_of_a_pandas_column_is_strftime(values):
    s = pd.Series(pd.to_datetime([None if v is None else v for v in values], unit="s", utc=True))
    assert _iso(s).to_pylist() == pc.strftime(pa.array(s, pa.timestamp("s", tz="UTC"), from_pandas=True),
                                              format=ISO_UTC).to_pylist()


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.lists(st.one_of(st.none(), TEXT), max_size=30), st.integers(0, 5), st.integers(0, 5))
@NO_DEADLINE
def test_has_newline_answers_as_a_regex_on_every_value(values, cut, length):
    """Sliced and chunked columns too: only the values' own characters count."""
    arr = pa.array(values, pa.string())
    part = arr.slice(min(cut, len(arr)), length)
    for col in (arr, part, pa.chunked_array([arr, part], pa.string())):
        want = bool(pc.any(pc.match_substring_regex(col, "[\r\n]")).as_py())
        table = pa.table({"n": pa.array(range(len(col)), pa.int64()), "t": col})
        got = _has_newline(table)
        # A null holds no characters in Arrow's own builders; were its bytes ever set, yes is the safe answer.
        assert got == want


@given(st.lists(TEXT, max_size=30))
@NO_DEADLINE
def test_text_of_arrow_strings_is_astype_str(values):
    for s in (pd.Series(values, dtype=pd.ArrowDtype(pa.string())), pd.Series(values, dtype="string[pyarrow]"),
              pd.Series(values, dtype=object)):
        assert _text(s).to_pylist() == list(s.astype(str))


def test_text_of_other_keys_is_astype_str():
    for s in (pd.Series([1, 22, 333]), pd.Series(["a", "b"], dtype=object)):
        assert _text(s).to_pylist() == list(s.astype(str).to_numpy(dtype=object))


@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "é", ""]), st.text(max_size=3)), max_size=60),
       st.integers(min_value=0, max_value=5))
@NO_DEADLINE
def test_first_rows_are_pandas_first_duplicates_and_each_rows_node(values, cut):
    """The sessions' node rows are those pandas keeps with ``keep='first'`` (the first dump's copy,
    as the Bolt writer and the workspace keep it), and each row's node position points at the node
    row holding its key (nulls one key)."""
    arr = pa.array(values, pa.string())
    keys = pa.chunked_array([arr[:cut], arr[cut:]]) if cut <= len(values) else arr
    first, node = _first_rows(keys)
    want = ~pd.Series(values, dtype=object).duplicated(keep="first").to_numpy()
    assert first.tolist() == want.tolist()
    nodes = [v for v, keep in zip(values, first, strict=True) if keep]
    assert [nodes[i] for i in node] == values
    assert node.dtype == np.int64


@given(st.lists(st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=8), min_size=1, max_size=4))
@NO_DEADLINE
def test_node_ids_number_every_file_and_find_keys_by_label(labels):
    """Ids run from 0 over every node file; a key is found in its own label only; the key stays a
    string property and an unnamed ID (the scratch marker) none."""
    ids = NodeIds()
    start = 0
    for i, keys in enumerate(labels):
        header, table = ids.assign(f"L{i}", [f"k:ID(L{i})", "case"], pa.table({"k": keys, "case": ["x"] * len(keys)}))
        assert header == [":ID", "k:string", "case"]
        assert table.column(0).to_pylist() == list(range(start, start + len(keys)))
        assert table.column(1).to_pylist() == keys
        start += len(keys)
    for i, keys in enumerate(labels):
        first = sum(len(k) for k in labels[:i])
        assert ids.lookup("R", f"L{i}", pa.array(keys[::-1], pa.string())).to_pylist() == \
            list(range(first, first + len(keys)))[::-1]
    header, table = ids.assign("M", [":ID(M)", "id:long"], pa.table({"k": ["scratch"], "id": [1]}))
    assert header == [":ID", "id:long"] and table.column_names == ["id", "id"] and table.column(0)[0].as_py() == start


def test_node_ids_refuse_a_relationship_to_a_key_no_node_file_holds():
    ids = NodeIds()
    ids.assign("Cell", ["cell_id:ID(Cell)"], pa.table({"k": ["c1", "c2"]}))
    assert ids.lookup("AT_CELL", "Cell", pa.array(["c2", "c1", "c2"])).to_pylist() == [1, 0, 1]
    with pytest.raises(GraphError, match="the AT_CELL relationships of the import files name Cell 'c3', which no"):
        ids.lookup("AT_CELL", "Cell", pa.array(["c1", "c3"]))
    with pytest.raises(GraphError, match="name Session 'c1'"):
        ids.lookup("HAD", "Session", pa.array(["c1"]))


def test_node_refs_pass_as_ids_and_keys_as_text():
    """Sessions' ends come as node ids (int64, not looked up); every other end as its key's text."""
    header, table = _rel_table("HAD", pd.Series(["9170", "9171"]), NodeRef(np.array([4, 2])))
    assert header == [":START_ID(Subscriber)", ":END_ID(Session)"]
    assert table.column(0).type == pa.string() and table.column(1).type == pa.int64()
    ids = NodeIds()
    assert ids.lookup("HAD", "Session", table.column(1)).to_pylist() == [4, 2]
