"""The loader's stored hashes, computed from Arrow buffers, equal the pandas formulas they replaced.

Session keys, raw-row hashes (re-sent rows across dumps) and record keys live on in users'
workspaces, so loader/hashing.py must give the same bits as the pandas code it replaced. The
old formulas are kept here as the reference (pandas' ``hash_pandas_object`` and the former
``_column_words``/``session_hashes``/``record_keys``), compared on generated frames: empty
strings, missing values, any Unicode, one row, zero rows, several and sliced Arrow chunks, and
both of the fast path's routes (factorised first, or every cell hashed).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.loader import hashing
from cdrnet.loader.normalize import _HASH_KEYS, _hex_keys, raw_row_hash, record_keys, session_hashes

# Arrow strings are valid UTF-8: no lone surrogates. Otherwise anything, with "" and repeats likely, but
# NUL: pandas 2's reference (allowed by pyproject.toml) factorises on C strings, "" and "\0" as one
# value; texts with NUL are compared with pandas' per-value hash below.
TEXT = st.one_of(st.just(""), st.sampled_from(["a", "919876543210", "10.0.0.1", "ü", "名前", "x" * 40]),
                 st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                         max_size=24))
CELL = st.one_of(TEXT, st.none())
#: The ``sample`` fixture only sets a constant for the whole test, so sharing it across inputs is right.
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(params=[4, hashing._SAMPLE], ids=["small-sample", "default-sample"])
def sample(request, monkeypatch):
    """A small sample size makes tiny generated columns take both routes (factorise / hash every cell)."""
    monkeypatch.setattr(hashing, "_SAMPLE", request.param)
    return request.param


def _arrow_column(values: list[str | None], cuts: list[int], large: bool, dtype: str) -> pd.Series:
    """A pandas text column on an Arrow array split into chunks at ``cuts``, some of them sliced."""
    typ = pa.large_string() if large else pa.string()
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    chunks = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        # Pad each chunk with a value on both sides and slice it off: chunks with an offset, as a filter leaves.
        padded = pa.array(["pad", *values[lo:hi], "pad"], typ)
        chunks.append(padded.slice(1, hi - lo))
    arr = pa.chunked_array(chunks, typ) if chunks else pa.chunked_array([], typ)
    na = np.nan if dtype == "str" else pd.NA
    return pd.Series(pd.arrays.ArrowStringArray(arr) if na is pd.NA else
                     pd.array(arr, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))



def _utc_times(seconds: list[int]) -> pd.Series:
    """Epoch seconds as UTC times in microseconds, as ``pd.to_datetime(..., unit="s", utc=True)``
    gives them on pandas 3; pandas 2 (allowed by pyproject.toml) gives nanoseconds, which overflow
    past 2262 (the generated times reach 2514 and beyond)."""
    times = np.array(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[us]")
    return pd.Series(times).dt.tz_localize("UTC")


frames = st.integers(min_value=0, max_value=25).flatmap(lambda n: st.tuples(
    st.lists(st.lists(CELL, min_size=n, max_size=n), min_size=0, max_size=5),
    st.lists(st.integers(min_value=0, max_value=30), max_size=3),
    st.booleans(), st.sampled_from(["str", "string"])))


@SETTINGS
@given(frames)
def test_frame_hashes_equal_hash_pandas_object(sample, case) -> None:
    columns, cuts, large, dtype = case
    n = len(columns[0]) if columns else 0
    frame = pd.DataFrame({f"c{i}": _arrow_column(v, cuts, large, dtype) for i, v in enumerate(columns)},
                         index=pd.RangeIndex(n))
    for keys in (("0123456789123456",), ("cdrnet-record-01", "cdrnet-record-02")):
        ours = hashing.frame_hashes(frame, keys)
        for key, h in zip(keys, ours, strict=True):
            ref = pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()
            assert h.dtype == np.uint64 and np.array_equal(h, ref)


@SETTINGS
@given(st.integers(min_value=0, max_value=20).flatmap(lambda n: st.tuples(
    st.lists(CELL, min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.integers(min_value=-2**63, max_value=2**63 - 1)), min_size=n, max_size=n),
    st.lists(st.floats(allow_nan=True), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n))))
def test_mixed_dtypes_equal_hash_pandas_object(sample, case) -> None:
    """Numbers, times, masked integers and object text go through pandas itself: still equal."""
    text, ints, floats, bools = case
    frame = pd.DataFrame({
        "t": pd.Series(text, dtype="string"), "o": pd.Series(text, dtype=object),
        "i": pd.Series(ints, dtype="Int64"), "f": pd.Series(floats, dtype=float),
        "n": pd.Series([0 if v is None else v for v in ints], dtype=np.int64),
        "d": _utc_times([0 if v is None else v % 2**40 for v in ints]),
        "b": pd.Series(bools, dtype=bool),
    })
    for key in ("0123456789123456", "cdrnet-record-02"):
        assert np.array_equal(hashing.frame_hashes(frame, (key,))[0],
                              pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy())


@SETTINGS
@given(st.lists(st.text(alphabet=st.sampled_from(["\0", "a", "é", " "]), max_size=4), min_size=1, max_size=12))
def test_texts_with_nul_hash_as_pandas_hashes_each_value(sample, values: list[str]) -> None:
    """NUL is a character like any other: each text hashes as ``hash_array`` hashes it alone (no
    factorising, so no C-string comparison), combined as ``hash_pandas_object`` combines one column
    (CPython's tuple hash); "" and a NUL differ."""
    frame = pd.DataFrame({"t": _arrow_column(values, [], True, "str")})
    h = pd.util.hash_array(np.array(values, dtype=object), hash_key="0123456789123456", categorize=False)
    with np.errstate(over="ignore"):
        ref = ((np.uint64(0x345678) ^ h) * np.uint64(1000003)) + np.uint64(97531)
    assert np.array_equal(hashing.frame_hashes(frame, ("0123456789123456",))[0], ref)
    pair = hashing.frame_hashes(pd.DataFrame({"t": _arrow_column(["", "\0"], [], True, "str")}))[0]
    assert pair[0] != pair[1]


def test_zero_columns_and_blank_columns() -> None:
    """No columns at all, and columns blank for the whole block (the offsets-only shortcut)."""
    empty = pd.DataFrame(index=pd.RangeIndex(3))
    # pandas 3's hash_pandas_object of it: the combine of no columns, its seed 0x345678 plus 97531 per
    # row (pandas 2, which pyproject.toml allows, raises on a frame without columns instead).
    assert np.array_equal(hashing.frame_hashes(empty)[0], np.full(3, 0x345678 + 97531, dtype=np.uint64))
    blank = pd.DataFrame({"a": pd.Series([""] * 700, dtype="str"),
                          "b": pd.Series(["", None] * 350, dtype="string"),
                          "c": pd.Series(["x"] * 700, dtype="str")})
    assert np.array_equal(hashing.frame_hashes(blank)[0], pd.util.hash_pandas_object(blank, index=False).to_numpy())


# --- the session key, as it was computed before loader/hashing.py (the reference) ---------------

def _old_mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _old_column_words(col: pd.Series) -> list[np.ndarray]:
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        arr = col.to_numpy(dtype="datetime64[s]")
        v = arr.astype(np.int64)
        v[np.isnat(arr)] = -1
        return [v.view(np.uint64)] * len(_HASH_KEYS)
    if pd.api.types.is_integer_dtype(col.dtype):
        return [col.fillna(-1).to_numpy(dtype=np.int64).view(np.uint64)] * len(_HASH_KEYS)
    codes, uniques = pd.factorize(col.astype("string").fillna(""), use_na_sentinel=False)
    values = np.asarray(uniques, dtype=object)
    return [pd.util.hash_array(values, hash_key=hash_key)[codes] for _, hash_key in _HASH_KEYS]


def _old_session_hashes(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    out = [np.full(len(frame), seed, dtype=np.uint64) for seed, _ in _HASH_KEYS]
    for i, c in enumerate(columns):
        for k, ((seed, _), words) in enumerate(zip(_HASH_KEYS, _old_column_words(frame[c]), strict=True)):
            salt = np.uint64(((i + 1) * seed) & 0xFFFFFFFFFFFFFFFF)
            out[k] = _old_mix(out[k] ^ _old_mix(words + salt))
    return out[0], out[1]


@SETTINGS
@given(st.integers(min_value=0, max_value=20).flatmap(lambda n: st.tuples(
    st.lists(CELL, min_size=n, max_size=n), st.lists(CELL, min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=2**34)), min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=65535)), min_size=n, max_size=n),
    st.lists(st.floats(allow_nan=True, allow_infinity=False), min_size=n, max_size=n))))
def test_session_hashes_equal_the_old_formula(sample, case) -> None:
    msisdn, ip, secs, port, lat = case
    frame = pd.DataFrame({
        "msisdn": pd.Series(msisdn, dtype="string"), "ip": pd.Series(ip, dtype="str"),
        "obj": pd.Series(ip, dtype=object), "lat": pd.Series(lat, dtype=float),
        "start": pd.to_datetime(pd.Series(secs, dtype="Int64"), unit="s", utc=True).astype("datetime64[s, UTC]"),
        "port": pd.Series(port, dtype="Int64"),
    })
    for columns in (list(frame.columns), ["port", "ip", "msisdn"]):
        ours = session_hashes(frame, columns)
        ref = _old_session_hashes(frame, columns)
        assert all(np.array_equal(a, b) for a, b in zip(ours, ref, strict=True))


def _old_record_keys(msisdn: pd.Series, charging_id: pd.Series, end_utc: pd.Series) -> pd.Series:
    parts = pd.DataFrame({"m": msisdn.fillna(""), "c": charging_id, "e": end_utc.astype("int64")})
    h1 = pd.util.hash_pandas_object(parts, index=False, hash_key="cdrnet-record-01").to_numpy()
    h2 = pd.util.hash_pandas_object(parts, index=False, hash_key="cdrnet-record-02").to_numpy()
    keys = _hex_keys(h1, h2).set_axis(msisdn.index)
    return keys.where(charging_id != "", "").astype("string")


@SETTINGS
@given(st.integers(min_value=0, max_value=20).flatmap(lambda n: st.tuples(
    st.lists(CELL, min_size=n, max_size=n), st.lists(TEXT, min_size=n, max_size=n),
    st.lists(st.integers(min_value=0, max_value=2**34), min_size=n, max_size=n))))
def test_record_keys_equal_the_old_formula(sample, case) -> None:
    msisdn, charging, secs = case
    layout = SimpleNamespace(volume_scope="record", fields={"charging_id": "Charging_ID"})
    m = pd.Series(msisdn, dtype="string")
    c = pd.Series(charging, dtype="string")
    e = _utc_times(secs)
    pd.testing.assert_series_equal(record_keys(layout, m, c, e), _old_record_keys(m, c, e))


@SETTINGS
@given(frames, st.data())
def test_raw_row_hash_equals_hash_pandas_object(sample, case, data) -> None:
    """The raw-row hash of kept rows, serial-number column aside, as pandas hashed it."""
    columns, cuts, large, dtype = case
    n = len(columns[0]) if columns else 0
    raw = pd.DataFrame({f"c{i}": _arrow_column(v, cuts, large, dtype) for i, v in enumerate(columns)},
                       index=pd.RangeIndex(n))
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    serial = data.draw(st.one_of(st.none(), st.integers(min_value=0, max_value=6)))
    det = SimpleNamespace(index={} if serial is None else {"serial": serial})
    content = raw[keep]
    if serial is not None and serial < content.shape[1]:
        content = content.drop(columns=content.columns[serial])
    ref = (pd.util.hash_pandas_object(content, index=False).to_numpy(dtype=np.uint64)
           if len(content) and content.shape[1] else np.zeros(0, dtype=np.uint64))
    if len(content) and not content.shape[1]:  # pandas 3's answer; pandas 2 raises on no columns
        ref = np.full(len(content), 0x345678 + 97531, dtype=np.uint64)
    ours = raw_row_hash(raw, keep, det)
    assert ours.dtype == np.uint64 and np.array_equal(ours, ref)


@SETTINGS
@given(st.integers(min_value=0, max_value=12).flatmap(
    lambda n: st.lists(st.lists(CELL, min_size=n, max_size=n), min_size=1, max_size=6)),
    st.booleans(), st.integers(min_value=0, max_value=2))
def test_text_row_hashes_equal_hash_pandas_object(columns, large, pad) -> None:
    """The kernel's row hash (each column hashed and folded in one call) and its pure reference both
    give pandas' hash_pandas_object of the columns: missing values, "" and sliced arrays included."""
    typ = pa.large_string() if large else pa.string()
    arrays = [pa.array(["p"] * pad + v + ["p"] * pad, typ).slice(pad, len(v)) for v in columns]
    frame = pd.DataFrame({f"c{i}": pd.arrays.ArrowStringArray(a) for i, a in enumerate(arrays)})
    ref = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    assert np.array_equal(hashing.text_row_hashes(arrays), ref)
    assert np.array_equal(hashing.text_row_hashes_pure(arrays), ref)


def test_text_row_hashes_of_no_column_is_the_empty_tuple_hash() -> None:
    """No column (a raw block of only a serial number): every row gets the hash of the empty row."""
    want = hashing.RowHash(3, 0).result()
    assert np.array_equal(hashing.text_row_hashes([], rows=3), want)
