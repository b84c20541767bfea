"""The link run's stored file has the same Arrow types under pandas 2 and pandas 3.

pyproject.toml allows both; a workspace is the case's record, so ``link-run/edges.parquet`` must
not change with the pandas that wrote it (pandas 2 wrote ``string`` and nanosecond times where
pandas 3 writes ``large_string`` and, for whole seconds, microseconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from cdrnet.analysis.cousage import LinkParams, link, utc_from_seconds
from cdrnet.workspace import Workspace, edges_table
from tests.helpers import fortnight, frame, sess

A, B, C = "919800000001", "919800000002", "919800000003"

#: Epoch seconds of 2000-2040: whole, or with a fraction below the second.
_SECONDS = st.integers(946_684_800, 2_208_988_800)
_TIMES = st.lists(st.one_of(_SECONDS.map(float), st.just(np.nan),
                            st.tuples(_SECONDS, st.integers(1, 999_999)).map(lambda t: t[0] + t[1] / 1e6)),
                  max_size=20)


@given(_TIMES)
def test_times_from_seconds_in_pandas_3s_resolution(values: list[float]) -> None:
    """Microseconds when every time is a whole second (or none), nanoseconds otherwise, whichever
    pandas runs; the instants are those ``pd.to_datetime`` gives, NaN as NaT (``utc_from_seconds``
    hands pandas no NaN: pandas 2 rounded an uninitialised fraction for one, and could raise)."""
    seconds = np.array(values, dtype=float)
    times = utc_from_seconds(seconds)
    whole = all(np.isnan(v) or v == int(v) for v in values)
    assert times.dtype == pd.DatetimeTZDtype("us" if whole else "ns", "UTC")
    known = ~np.isnan(seconds)
    expected = pd.to_datetime(seconds[known], unit="s", utc=True).as_unit("ns")
    pd.testing.assert_index_equal(times[known].as_unit("ns"), expected)
    assert list(times.isna()) == list(~known)


def test_whole_seconds_keep_their_exact_instant() -> None:
    times = utc_from_seconds(np.array([1_700_000_000.0, np.nan, 0.0]))
    assert times.dtype == pd.DatetimeTZDtype("us", "UTC")
    assert times[0] == pd.Timestamp("2023-11-14 22:13:20", tz="UTC") and times[1] is pd.NaT
    assert utc_from_seconds(np.array([1.5])).dtype == pd.DatetimeTZDtype("ns", "UTC")
    assert utc_from_seconds(np.array([], dtype=float)).dtype == pd.DatetimeTZDtype("us", "UTC")


def test_edges_table_stores_text_as_large_string_whatever_its_pandas_dtype() -> None:
    """Python-object text (pandas 2's) and Arrow text (pandas 3's) store alike; other types as
    ``DataFrame.to_parquet`` converts them."""
    edges = pd.DataFrame({
        "a": pd.Series(["x", "y", None], dtype=object),
        "b": pd.Series(["u", None, "w"], dtype=pd.StringDtype("pyarrow")),
        "score": [1.0, -0.0, 2.5], "n": np.array([1, 2, 3], dtype=np.int64), "link": [True, False, True],
        "empty": pd.Series([None, None, None], dtype=object),
    })
    table = edges_table(edges)
    assert table.schema.field("a").type == table.schema.field("b").type == pa.large_string()
    assert table.column("a").to_pylist() == ["x", "y", None]
    assert table.column("b").to_pylist() == ["u", None, "w"]
    expected = pa.Table.from_pandas(edges, preserve_index=False).schema
    for name in ("score", "n", "link", "empty"):
        assert table.schema.field(name).type == expected.field(name).type, name
    assert table.schema.metadata == expected.metadata  # pandas' description kept, as to_parquet does


def test_written_link_run_has_the_same_types_under_either_pandas(tmp_path) -> None:
    f = frame([sess(A, "2024-01-01 10:00:00"), sess(B, "2024-01-01 10:01:00"), sess(C, "2024-01-02 11:00:00"),
               sess(A, "2024-01-03 10:00:00"), sess(B, "2024-01-03 10:00:30")])
    result = link(f, LinkParams(colocation=False), coverage=fortnight(f))
    assert len(result.edges) > 0
    ws = Workspace(tmp_path / "ws").create()
    ws.write_links(result)
    schema = pq.read_schema(ws.link_run_dir / "edges.parquet")
    for name in ("a", "b", "services", "cells", "mode"):
        assert schema.field(name).type == pa.large_string(), name
    assert schema.field("first_utc").type == schema.field("last_utc").type == pa.timestamp("us", tz="UTC")
    stored = ws.last_link_run()
    assert stored is not None
    assert list(stored.edges["a"]) == list(result.edges["a"])
    assert list(stored.edges["first_utc"]) == list(result.edges["first_utc"])
