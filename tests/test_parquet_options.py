"""dumps/<sha>.parquet written with the workspace's settings reads back as Arrow's defaults write it.

``cdrnet.workspace.SESSION_PARQUET_OPTIONS`` picks per column whether to keep a dictionary and
which encoding to use (delta-packed times and line numbers, the session keys' lengths apart, local
times as shared prefixes), to spend less CPU and fewer bytes (docs/benchmarks.md). Those are only
how the values are laid out: any reader must get the same table, nulls, empty strings, times that
go backwards and one-row tables included.
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.model import SESSION_SCHEMA
from cdrnet.workspace import SESSION_PARQUET_OPTIONS, DumpWriter, Workspace

_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "919812345678", "2023-07-13 10:00:00", "é€", "x" * 40]),
                  st.text(max_size=12))
_INT = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
_TIME = st.one_of(st.none(), st.integers(-2_000_000_000, 4_000_000_000))


def _column(field: pa.Field, n: int, data: st.DataObject) -> pa.Array:
    typ = field.type
    if pa.types.is_string(typ):
        values = data.draw(st.lists(_TEXT, min_size=n, max_size=n))
    elif pa.types.is_timestamp(typ):
        values = data.draw(st.lists(_TIME, min_size=n, max_size=n))
        return pa.array(values, type=pa.int64()).cast(typ)
    elif pa.types.is_floating(typ):
        values = data.draw(st.lists(st.one_of(st.none(), st.floats(allow_nan=False)), min_size=n, max_size=n))
    else:
        values = data.draw(st.lists(_INT, min_size=n, max_size=n))
    return pa.array(values, type=typ)


def _written(table: pa.Table, **options: object) -> pa.Table:
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, SESSION_SCHEMA, **options) as writer:
        writer.write_table(table)
    return pq.read_table(io.BytesIO(sink.getvalue()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 40), data=st.data())
def test_workspace_settings_read_back_as_the_defaults(n: int, data: st.DataObject) -> None:
    table = pa.Table.from_arrays([_column(f, n, data) for f in SESSION_SCHEMA], schema=SESSION_SCHEMA)
    ours = _written(table, **SESSION_PARQUET_OPTIONS)
    plain = _written(table, compression="zstd")
    assert ours.schema == plain.schema
    assert ours.equals(plain)


def test_the_dump_file_uses_the_chosen_encodings(tmp_path) -> None:
    """The settings reach the file a dump writes (so the test above tests what is stored)."""
    ws = Workspace(tmp_path / "ws").create()
    n = 50
    frame = pd.DataFrame({f.name: pa.array([None] * n, type=f.type).to_pandas() for f in SESSION_SCHEMA})
    frame["session_key"] = [f"{k:032x}" for k in range(n)]
    frame["start_utc"] = pd.date_range("2023-07-13", periods=n, freq="s", tz="UTC")
    frame["source_line"] = range(2, n + 2)
    frame["dump_sha256"] = "ab" * 32
    writer = DumpWriter(ws, "ab" * 32, "d.csv")
    writer.write_sessions(frame)
    staged = writer.stage()
    meta = pq.ParquetFile(staged.tmp_parquet).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: set(meta.column(i).encodings) for i in range(meta.num_columns)}
    assert "DELTA_BINARY_PACKED" in encodings["start_utc"] and "DELTA_BINARY_PACKED" in encodings["source_line"]
    assert "DELTA_LENGTH_BYTE_ARRAY" in encodings["session_key"]
    assert not {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & encodings["dump_sha256"]
    assert {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & encodings["msisdn"]
    codecs = {meta.column(i).path_in_schema: meta.column(i).compression for i in range(meta.num_columns)}
    assert codecs["msisdn"] == codecs["source_line"] == codecs["lat"] == "UNCOMPRESSED"
    assert codecs["session_key"] == codecs["dump_sha256"] == codecs["cell_id"] == "ZSTD"
    back = pq.read_table(staged.tmp_parquet)
    assert back["session_key"].to_pylist() == frame["session_key"].tolist()
    assert back["source_line"].to_pylist() == list(range(2, n + 2))
