"""The bulk import's column helpers (graph/bulk.py) against the slower forms they replace.

The node and relationship files must stay byte for byte what they were (the importer turns them
into the graph tests/test_neo4j_bulk.py compares with the Bolt writer's): each fast path is checked
against the general one on generated values, including nulls, line breaks and non-ASCII text.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.graph.bulk import ISO_UTC, _has_newline, _iso, _iso_text, _text

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
