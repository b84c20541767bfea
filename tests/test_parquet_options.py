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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cdrnet.model import SESSION_SCHEMA
from cdrnet.workspace import (
    SESSION_PARQUET_OPTIONS,
    STORED_SESSION_SCHEMA,
    DumpWriter,
    Workspace,
    _constant_bytes,
    arrow_table,
)

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
    assert {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & encodings["dump_sha256"]  # handed over as a dictionary
    assert {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & encodings["msisdn"]
    codecs = {meta.column(i).path_in_schema: meta.column(i).compression for i in range(meta.num_columns)}
    assert codecs["msisdn"] == codecs["source_line"] == codecs["lat"] == codecs["dump_sha256"] == "UNCOMPRESSED"
    assert codecs["session_key"] == codecs["cell_id"] == "ZSTD"
    back = pq.read_table(staged.tmp_parquet)
    assert back["session_key"].to_pylist() == frame["session_key"].tolist()
    assert back["source_line"].to_pylist() == list(range(2, n + 2))


#: How a text column of a block is drawn: one value on every row (a subscriber's identifiers, the
#: dump's SHA-256), a few values, every row null, or anything.
_SHAPES = st.sampled_from(["constant", "mixed", "null", "any"])


def _text_block(n: int, shape: str, data: st.DataObject) -> list[str | None]:
    if shape == "constant":
        return [data.draw(st.sampled_from(["", "919812345678", "é€", "ab" * 32]))] * n
    if shape == "null":
        return [None] * n
    if shape == "mixed":
        return data.draw(st.lists(st.sampled_from(["", "a", "404450123456789", "é"]), min_size=n, max_size=n))
    return data.draw(st.lists(_TEXT, min_size=n, max_size=n))


def _block_frame(n: int, data: st.DataObject, large: bool, first_line: int) -> pd.DataFrame:
    """A block of sessions as the normaliser hands them over: text as Arrow strings (large ones, the
    normaliser's, or sliced out of a longer array, as a batch of small dumps is split), each text
    column of a drawn shape."""
    cols: dict[str, object] = {}
    for fld in SESSION_SCHEMA:
        if pa.types.is_string(fld.type):
            values = _text_block(n, data.draw(_SHAPES), data)
            typ = pa.large_string() if large else pa.string()
            pad = data.draw(st.integers(0, 2))
            arr = pa.array(["x"] * pad + values + ["y"], type=typ).slice(pad, n)  # a view into a longer array
            cols[fld.name] = pd.arrays.ArrowStringArray(pa.chunked_array([arr]))
        else:
            cols[fld.name] = pa.array([None] * n, type=fld.type).to_pandas()
    frame = pd.DataFrame(cols)
    frame["session_key"] = [f"{first_line + k:032x}" for k in range(n)]
    frame["source_line"] = range(first_line, first_line + n)
    return frame


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(1, 30), min_size=1, max_size=3), large=st.booleans(), data=st.data())
def test_the_stored_file_reads_back_as_written_before(tmp_path_factory, sizes: list[int], large: bool,
                                                      data: st.DataObject) -> None:
    """A dump's sessions handed to the writer as dictionaries (``STORED_SESSION_SCHEMA``) read back
    with the types, values and metadata of the file written before, as plain text with
    ``SESSION_PARQUET_OPTIONS``: constant, mixed and all-null columns, blocks whose dictionaries
    differ (one row group each), views into longer arrays."""
    ws = Workspace(tmp_path_factory.mktemp("ws") / "ws").create()
    blocks, line = [], 2
    for n in sizes:
        blocks.append(_block_frame(n, data, large, line))
        line += n
    writer = DumpWriter(ws, "ab" * 32, "d.csv")
    for block in blocks:
        writer.write_sessions(block)
    staged = writer.stage()
    new = pq.read_table(staged.tmp_parquet)
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, SESSION_SCHEMA, **SESSION_PARQUET_OPTIONS) as before:
        for block in blocks:
            before.write_table(arrow_table(block, SESSION_SCHEMA))  # the code before, as it was
    old = pq.read_table(io.BytesIO(sink.getvalue()))
    assert new.schema.equals(old.schema, check_metadata=True)
    assert new.schema.metadata == SESSION_SCHEMA.metadata  # the cell key scheme (upgrade_stored_cells)
    assert new.equals(old)
    for fld in new.schema:  # exactly the types the files written before read back as
        want = SESSION_SCHEMA.field(fld.name).type
        assert fld.type == (pa.timestamp("ms", tz="UTC") if pa.types.is_timestamp(want) else want)


def test_stored_schema_is_the_session_schema_with_dictionaries() -> None:
    """The writer's schema differs from SESSION_SCHEMA only in its dictionary columns' type."""
    assert STORED_SESSION_SCHEMA.names == SESSION_SCHEMA.names
    for ours, canon in zip(STORED_SESSION_SCHEMA, SESSION_SCHEMA, strict=True):
        assert ours.type == canon.type or ours.type == pa.dictionary(pa.int32(), canon.type)
    assert pa.types.is_dictionary(STORED_SESSION_SCHEMA.field("dump_sha256").type)
    assert pa.types.is_dictionary(STORED_SESSION_SCHEMA.field("msisdn").type)
    assert not pa.types.is_dictionary(STORED_SESSION_SCHEMA.field("session_key").type)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "ab", "ba", "aba", "é", "abab"])),
                       max_size=12),
       pad=st.integers(0, 3), large=st.booleans())
@example(values=["ab", "", "abab"], pad=1, large=False)  # lengths sum as if constant, data of period 2
@example(values=["ab", "ab", "ab"], pad=2, large=True)
def test_constant_bytes_is_the_one_value_or_none(values: list[str | None], pad: int, large: bool) -> None:
    """``_constant_bytes`` finds the value every row holds (reference: a set of the values), also in a
    view into a longer array, and nothing when a row differs or is null: lengths that sum the same
    (``ab``, ``a``, ``bab``...) or data that repeats with another period do not fool it."""
    typ = pa.large_string() if large else pa.string()
    arr = pa.array(["zz"] * pad + values + ["q"], type=typ).slice(pad, len(values))
    distinct = set(values)
    want = next(iter(distinct)).encode() if len(distinct) == 1 and None not in distinct else None
    assert _constant_bytes(arr) == want


def test_a_frame_with_python_text_converts_to_the_stored_schema() -> None:
    """Text columns that are not Arrow strings (object dtype, from other paths) take the general
    conversion first, then become dictionaries the same way."""
    n = 5
    frame = pd.DataFrame({f.name: pa.array([None] * n, type=f.type).to_pandas() for f in SESSION_SCHEMA})
    frame["msisdn"] = pd.Series(["919812345678"] * n, dtype=object)
    frame["imsi"] = pd.Series(["a", None, "b", "a", None], dtype=object)
    table = arrow_table(frame, STORED_SESSION_SCHEMA)
    assert table.schema.equals(STORED_SESSION_SCHEMA)
    assert table["msisdn"].combine_chunks().dictionary.to_pylist() == ["919812345678"]
    assert table["msisdn"].cast(pa.string()).to_pylist() == ["919812345678"] * n
    assert table["imsi"].cast(pa.string()).to_pylist() == ["a", None, "b", "a", None]
    assert table["tz"].null_count == n
    assert table["dump_sha256"].combine_chunks().indices.null_count == n
