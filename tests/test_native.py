"""The compiled kernel (loader/_native.c) gives the same bits as the pure path it speeds up.

The pure path (pandas' SipHash, Arrow's integer cast and pandas' ``to_numeric``) is the
reference and stays: an install without a compiler runs it. Each test runs the same input
through both (``native.KERNEL`` set to None for the pure one) on generated valid and invalid
texts: empty, missing, any Unicode, arbitrary bytes, signs, spaces, points, hexadecimal,
numbers past 64 bits, sliced Arrow arrays with 32- and 64-bit offsets.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.loader import hashing, native, normalize
from cdrnet.loader.identifiers import to_int
from cdrnet.loader.timeparse import NAT

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TEXT = st.one_of(st.just(""), st.sampled_from(["a", "919876543210", "ü", "名前", "x" * 40]),
                 st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
#: Integer-like texts, valid and not: what a port, volume or duration column can hold.
NUMBER = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.integers(min_value=0, max_value=70000).map(str),
    st.sampled_from(["", "0", "-0", "+5", "-", "+", "007", " 443", "443 ", "443.0", "1e3", "0x1F", "0X10",
                     "12.5", "abc", "٤٤٣", "４４３", "1_000", "9" * 18, "9" * 19, "-" + "9" * 18, "1234567890123456789",
                     "nan", "inf", "--5", "5-", "\t7", "4\u00a0"]),
    st.text(alphabet="0123456789+-. xX", max_size=22),
    TEXT,
)
needs_kernel = pytest.mark.skipif(native.KERNEL is None and os.environ.get("CDRNET_REQUIRE_NATIVE") != "1",
                                  reason="the compiled kernel is not built (scripts/test requires it)")


@pytest.fixture
def pure(monkeypatch):
    """Run the pure path: every native function answers None."""
    monkeypatch.setattr(native, "KERNEL", None)


def _array(values: list, large: bool, pad: int, binary: bool = False) -> pa.Array:
    """An Arrow array of the values, sliced off ``pad`` values of padding on both sides."""
    typ = (pa.large_binary() if large else pa.binary()) if binary else (pa.large_string() if large else pa.string())
    return pa.array(["p"] * pad + values + ["p"] * pad, typ).slice(pad, len(values))


def test_required_kernel_is_loaded():
    """scripts/test sets CDRNET_REQUIRE_NATIVE=1: a build that silently fell back fails here."""
    if os.environ.get("CDRNET_REQUIRE_NATIVE") == "1":
        assert native.KERNEL is not None
    code = "from cdrnet.loader import native; print(native.KERNEL is not None)"
    env = {**os.environ, "CDRNET_REQUIRE_NATIVE": "1"}
    env.pop("CDRNET_NATIVE", None)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if native.KERNEL is not None:
        assert run.returncode == 0 and run.stdout.strip() == "True"
    else:
        assert run.returncode != 0 and "is not built" in run.stderr


def test_missing_kernel_is_an_error_only_when_required():
    """Without the extension: the pure path, unless CDRNET_REQUIRE_NATIVE=1 (one clear error)."""
    code = ("import sys; sys.modules['cdrnet.loader._native'] = None\n"
            "from cdrnet.loader import native; print(native.KERNEL)")
    env = {k: v for k, v in os.environ.items() if k not in ("CDRNET_REQUIRE_NATIVE", "CDRNET_NATIVE")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "None"
    run = subprocess.run([sys.executable, "-c", code], env={**env, "CDRNET_REQUIRE_NATIVE": "1"},
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "the compiled normaliser (cdrnet.loader._native) is not built" in run.stderr
    off = subprocess.run([sys.executable, "-c", "from cdrnet.loader import native; print(native.KERNEL)"],
                         env={**env, "CDRNET_NATIVE": "0"}, capture_output=True, text=True)
    assert off.returncode == 0 and off.stdout.strip() == "None"


@needs_kernel
@SETTINGS
@given(st.lists(st.one_of(TEXT, st.none()), max_size=40), st.booleans(), st.integers(0, 3),
       st.sampled_from(["0123456789123456", "cdrnet-session-1", "cdrnet-record-02"]))
def test_text_hashes_equal_pandas(values, large, pad, key):
    """SipHash-2-4 + pandas' mix of every value (nulls as pandas has them), with or without the kernel."""
    arr = _array(values, large, pad)
    fast = hashing.text_hashes(arr, [key])[0]
    expected = pd.util.hash_array(pd.array(values, dtype="string[pyarrow]"), hash_key=key)
    np.testing.assert_array_equal(fast, expected)
    saved, native.KERNEL = native.KERNEL, None
    try:
        np.testing.assert_array_equal(hashing.text_hashes(arr, [key])[0], expected)
    finally:
        native.KERNEL = saved


@needs_kernel
@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=40), st.booleans(), st.integers(0, 3))
def test_hash_of_any_bytes_equals_pandas(values, large, pad):
    """Bytes that are not UTF-8, NULs, every length around SipHash's 8-byte words."""
    arr = _array(values, large, pad, binary=True)
    out = native.hash_strings(arr, "0123456789123456")
    expected = pd.util.hash_array(np.array(values + [b""], dtype=object)[:-1], categorize=False)
    np.testing.assert_array_equal(out, expected)


#: Values the kernel's cache of hashed values must tell apart: every length 0-24, values equal in
#: their first and last 8 bytes but not in between, and ones that differ in one byte only.
_REPEATS = [b"", b"0", b"00", b"1", b"443", b"4430", b"abcdefg", b"abcdefh", b"12345678", b"12345679",
            b"02345678", b"10.0.0.1", b"10.0.0.10", b"AAAAAAAA-x-BBBBBBBB", b"AAAAAAAA-y-BBBBBBBB",
            b"AAAAAAAA--BBBBBBBB", b"0123456789abcdef", b"0123456789abcdeg", b"\x00\x00", b"\x00"]


@needs_kernel
@SETTINGS
@given(st.lists(st.sampled_from(_REPEATS), min_size=1, max_size=300), st.booleans())
def test_hash_of_repeated_values_equals_pandas(values, large):
    """The kernel's cache answers repeats (a short value by its length and bytes as one word, a
    longer one confirmed byte for byte): every hit is the value's own hash, the last value ending
    exactly at the buffer's end (a short value there is read byte by byte)."""
    data = b"".join(values)
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64 if large else np.int32)
    out = np.zeros(len(values), dtype=np.uint64)
    native.KERNEL.hash_strings(offsets, data, b"0123456789123456", out)
    expected = pd.util.hash_array(np.array(values + [b""], dtype=object)[:-1], categorize=False)
    np.testing.assert_array_equal(out, expected)


@needs_kernel
def test_kernel_refuses_offsets_outside_the_data():
    """Offsets are checked before any byte is read: a bad buffer is an error, never a crash."""
    out = np.zeros(2, dtype=np.uint64)
    with pytest.raises(ValueError, match="monotone"):
        native.KERNEL.hash_strings(np.array([0, 5, 99], dtype=np.int64), b"abcdef", b"0123456789123456", out)
    with pytest.raises(ValueError, match="monotone"):
        native.KERNEL.hash_strings(np.array([0, 5, 3], dtype=np.int32), b"abcdef", b"0123456789123456", out)
    with pytest.raises(ValueError, match="16 bytes"):
        native.KERNEL.hash_strings(np.array([0, 1, 2], dtype=np.int64), b"ab", b"short", out)


def _to_int_both(values: list[str], low: int, high: int, dtype: str) -> tuple:
    s = pd.Series(values, dtype=dtype)
    fast = to_int(s, low, high)
    saved, native.KERNEL = native.KERNEL, None
    try:
        slow = to_int(s, low, high)
    finally:
        native.KERNEL = saved
    return fast, slow


@needs_kernel
@SETTINGS
@given(st.lists(NUMBER, max_size=30), st.sampled_from([(0, 65535), (0, 2**62)]), st.sampled_from(["str", "string"]))
def test_to_int_kernel_equals_pure_path(values, bounds, dtype):
    """Values, missing mask and the blanked-as-invalid mask are identical, whatever the column holds."""
    (fv, fb), (sv, sb) = _to_int_both(values, *bounds, dtype)
    assert fv.dtype == sv.dtype == "Int64"
    np.testing.assert_array_equal(fv.isna().to_numpy(), sv.isna().to_numpy())
    np.testing.assert_array_equal(fv.fillna(0).to_numpy(dtype=np.int64), sv.fillna(0).to_numpy(dtype=np.int64))
    np.testing.assert_array_equal(fb.to_numpy(), sb.to_numpy())
    assert fb.dtype == sb.dtype


@needs_kernel
@SETTINGS
@given(st.lists(st.one_of(st.integers(-(10**18) + 1, 10**18 - 1).map(str), st.just("")), max_size=30),
       st.sampled_from([(0, 65535), (0, 2**62)]))
def test_to_int_plain_columns_take_the_kernel(values, bounds):
    """The usual column (plain integers, blanks) is read by the kernel, not handed back."""
    assert native.plain_ints(pa.array(values, pa.large_string()), *bounds) is not None
    (fv, fb), (sv, sb) = _to_int_both(values, *bounds, "str")
    assert fv.equals(sv) and fb.equals(sb)


@needs_kernel
@SETTINGS
@given(st.lists(NUMBER, max_size=30), st.sampled_from(["str", "string"]))
def test_seconds_kernel_equals_pure_path(values, dtype):
    s = pd.Series(values, dtype=dtype)
    fast = normalize._seconds(s)
    saved, native.KERNEL = native.KERNEL, None
    try:
        slow = normalize._seconds(s)
    finally:
        native.KERNEL = saved
    np.testing.assert_array_equal(fast, slow)


def test_pure_path_without_kernel(pure):
    """Every wrapper answers None without the kernel, so callers take their own path."""
    arr = pa.array(["1", "2"], pa.large_string())
    assert native.hash_strings(arr, "0123456789123456") is None
    assert native.plain_ints(arr, 0, 10) is None
    values, bad = to_int(pd.Series(["1", "x", "70000", ""], dtype="str"), 0, 65535)
    assert values.tolist() == [1, pd.NA, pd.NA, pd.NA] and bad.tolist() == [False, True, True, False]


@needs_kernel
@SETTINGS
@given(st.lists(st.integers(0, 2**64 - 1), max_size=40), st.lists(st.integers(0, 2**64 - 1), max_size=40),
       st.integers(0, 2**64 - 1))
def test_mix_into_equals_numpy(start, words, salt):
    """The session key's step, wrapping 64-bit arithmetic included."""
    n = min(len(start), len(words))
    out = np.array(start[:n], dtype=np.uint64)
    w = np.array(words[:n], dtype=np.uint64)
    expected = out.copy()
    np.bitwise_xor(expected, normalize._mix(w + np.uint64(salt)), out=expected)
    normalize._mix(expected)
    assert native.mix_into(out, w, salt)
    np.testing.assert_array_equal(out, expected)


@needs_kernel
@SETTINGS
@given(st.lists(st.tuples(st.one_of(TEXT, st.none()), st.one_of(st.integers(-(2**40), 2**40), st.none()),
                          st.one_of(st.integers(0, 2_000_000_000), st.none())), max_size=30))
def test_session_hashes_kernel_equals_pure_path(rows):
    """Session keys (stored in workspaces) from text, integer and time columns, missing values included."""
    frame = pd.DataFrame({
        "t": pd.array([r[0] for r in rows], dtype="string[pyarrow]"),
        "i": pd.array([r[1] for r in rows], dtype="Int64"),
        # Microsecond UTC times (pandas 3's for whole seconds), built from integers: pandas 2's float
        # path (allowed by pyproject.toml) rounds an uninitialised fraction for a NaN, and could raise.
        "d": pd.Series(np.array([NAT if r[2] is None else r[2] for r in rows], dtype=np.int64)
                       .view("datetime64[s]").astype("datetime64[us]")).dt.tz_localize("UTC"),
    })
    fast = normalize.session_hashes(frame, ["t", "i", "d"])
    saved, native.KERNEL = native.KERNEL, None
    try:
        slow = normalize.session_hashes(frame, ["t", "i", "d"])
    finally:
        native.KERNEL = saved
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


#: Lines of a block: the layouts' subscriber column names in any case, parts of them, other
#: header-like words, data-like rows, arbitrary bytes; joined with newlines (carriage returns kept).
NAME_LINE = st.one_of(
    st.sampled_from(["MSISDN,START", "msisdn", "Msisdn_UserId;x", "mobile no.", "MOBILE NO", "Target No",
                     "TARGET/A-PARTY NUMBER", "target/a-party", "A PARTY NUMBER", "calling party telephone number",
                     "msisd", "xmsisdnx,msisdn", "919876543210,10.1.2.3,4G", "", "\r", "ms\u0130sdn"]),
    st.text(alphabet="msidnMSIDN ,.\r-/abcopqrtuyzAT", max_size=30),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" ").decode("latin-1")),
)
NAMES = [b"a party number", b"calling party telephone number", b"mobile no.", b"msisdn", b"target no",
         b"target number", b"target/a-party number"]


@needs_kernel
@SETTINGS
@given(lines=st.lists(NAME_LINE, max_size=400), end=st.booleans(),
       names=st.one_of(st.just(NAMES), st.lists(st.sampled_from(NAMES + [b"n", b"a-", b"."]), min_size=1, max_size=5)))
def test_name_lines_kernel_equals_pure_path(lines, end, names):
    """The kernel's one-pass search finds the same header candidates as lower() + find, including
    a name on hundreds of lines (the kernel's second call with room) and non-ASCII bytes."""
    from cdrnet.loader.parse import name_lines_pure

    data = "\n".join(lines).encode("utf-8", errors="surrogatepass") + (b"\n" if end else b"")
    assert native.name_lines(data, tuple(names)) == name_lines_pure(data, names)


def test_name_lines_refuses_what_the_pure_path_must_decide():
    """Names the kernel does not claim to read as the pure path does go back to it (None)."""
    assert native.name_lines(b"MSISDN\n", (b"MSISDN",)) is None or native.KERNEL is None
    assert native.name_lines(b"a\nb", (b"a\nb",)) is None
    assert native.name_lines(b"x", ()) is None
    assert native.name_lines(b"x", (b"",)) is None


#: Lines of a block: rows, padding (blank, empty cells, quoted empty cells) and near-padding.
PAD_LINE = st.one_of(
    st.sampled_from(["", ",,,,", " ", "\t", '"",""', '"', '",', '""', "'", ";|", ",,x,,", "x", "\x0b\x0c",
                     "919876543210,10.1.2.3,4G", '" ,', "\r", ",\r", "\x00", "é,,"]),
    st.text(alphabet=' \t,;|"\'x\x0b\x0c\r', max_size=12),
)


@needs_kernel
@SETTINGS
@given(lines=st.lists(PAD_LINE, max_size=300), end=st.booleans())
def test_pad_lines_kernel_equals_pure_path(lines, end):
    """The kernel's line-by-line padding search counts the same lines and finds the same padding
    lines as the vectorised pure path, with or without a final newline, past its first room."""
    from cdrnet.loader.parse import _pad_lines_pure

    data = "\n".join(lines).encode("utf-8") + (b"\n" if end else b"")
    n, pad = native.pad_lines(data)
    n_pure, pad_pure = _pad_lines_pure(data)
    assert n == n_pure
    assert pad.tolist() == pad_pure.tolist()


def test_drop_padding_same_with_and_without_kernel(monkeypatch):
    """``_drop_padding`` keeps the same bytes and line numbers whichever path found the padding."""
    from cdrnet.loader import parse

    data = b'a,b\n,,\n\n"",""\nc,d\n"x,\n \ne,f'
    got = parse._drop_padding(data, 5)
    monkeypatch.setattr(native, "KERNEL", None)
    want = parse._drop_padding(data, 5)
    assert got[0] == want[0] == b'a,b\nc,d\n"x,\ne,f'
    assert got[1].tolist() == want[1].tolist() == [5, 9, 10, 12]
    assert got[2] == want[2] == 4


#: Values whose first or last byte makes ``clean_array`` act, or not: spaces, quotes, ``=``, apostrophes.
EDGY = st.one_of(TEXT, st.sampled_from(["", " ", " a", "a ", '"a"', "=\"9\"", "'9", "9'", "a\u00a0", "\t", "x=", '"']))


@needs_kernel
@SETTINGS
@given(st.lists(TEXT, min_size=1, max_size=30), st.lists(st.integers(0, 10**6), max_size=60), st.integers(0, 3),
       st.sampled_from([np.int32, np.int64]))
def test_take_strings_equals_arrow_take(values, picks, pad, dtype):
    """The kernel's gather gives Arrow's take bit for bit (values, offsets, no nulls), sliced arrays included."""
    from cdrnet.loader.identifiers import take_text

    arr = _array(values, True, pad)
    idx = np.array([p % len(values) for p in picks], dtype=dtype)
    expected = arr.take(pa.array(idx))
    got = native.take_strings(arr, idx)
    assert got is not None
    got.validate(full=True)
    assert got.type == expected.type and got.equals(expected) and got.null_count == 0
    assert take_text(arr, pa.array(idx)).equals(expected)


@needs_kernel
def test_take_strings_out_of_range_is_arrows_error():
    """A code out of range: the kernel declines and Arrow's take raises as it always did."""
    from cdrnet.loader.identifiers import take_text

    arr = pa.array(["a", "bb"], pa.large_string())
    for bad in (np.array([0, 2]), np.array([-1], dtype=np.int32)):
        assert native.take_strings(arr, bad) is None
        with pytest.raises(IndexError):
            take_text(arr, bad)
    assert native.take_strings(pa.array(["a", None], pa.large_string()), np.array([0])) is None


@needs_kernel
@SETTINGS
@given(st.lists(EDGY, max_size=30), st.integers(0, 3))
def test_edge_flags_equal_numpy_gathers(values, pad):
    """``_may_need_cleaning`` by the kernel answers as the numpy gathers (empty values at either end included)."""
    from cdrnet.loader import identifiers

    arr = _array(values, True, pad)
    assert identifiers._may_need_cleaning(arr) == identifiers._may_need_cleaning_pure(arr)
    arr = pa.array(values, pa.large_string())  # unsliced: an empty value first or last reads a clipped byte
    assert identifiers._may_need_cleaning(arr) == identifiers._may_need_cleaning_pure(arr)


@needs_kernel
@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)), max_size=40))
def test_hex_keys_equal_numpy_hex(pairs):
    """The session key's 32 hex digits a row, by the kernel, as numpy's byte swap and ``bytes.hex``."""
    h1 = np.array([a for a, _ in pairs], dtype=np.uint64)
    h2 = np.array([b for _, b in pairs], dtype=np.uint64)
    got = native.hex_keys(h1, h2)
    assert got is not None and got.to_pybytes() == normalize._hex_digits_pure(h1, h2)
    keys = normalize._hex_keys(h1, h2)
    assert keys.tolist() == [f"{a:016x}{b:016x}" for a, b in pairs]


@needs_kernel
@SETTINGS
@given(st.data(), st.integers(0, 30))
def test_mix_columns_equals_the_word_path(data, n):
    """The session key by the kernel (words made on the fly from typed columns) equals
    ``_mix_columns`` of the numpy words, for text, times (NAT among them) and ints with gaps."""
    def ints(lo, hi):
        return np.array(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), dtype=np.int64)

    def flags():
        return np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)

    text = pa.array(data.draw(st.lists(TEXT, min_size=n, max_size=n)), pa.large_string())
    times = np.where(flags(), ints(-(2**40), 2**40), normalize.NAT)
    extreme = np.where(flags(), ints(-(2**63), 2**63 - 1), normalize.NAT)
    columns = [(0, text), (1, times), (2, ints(-5, 70000), flags()), (1, extreme),
               (2, ints(-(2**63), 2**63 - 1), flags())]
    got = normalize._session_key(n, columns)
    seeds = (normalize._HASH_KEYS[0][0], normalize._HASH_KEYS[1][0])
    assert native.mix_columns(n, [(0, *normalize._text_words(text))] + columns[1:], seeds) is not None
    want = normalize._mix_columns(n, [normalize._text_words(text), [normalize._time_words(times)] * 2,
                                      [normalize._int_words(*columns[2][1:])] * 2,
                                      [normalize._time_words(extreme)] * 2,
                                      [normalize._int_words(*columns[4][1:])] * 2])
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@needs_kernel
@SETTINGS
@given(data=st.one_of(st.binary(max_size=9000),
                      st.lists(st.sampled_from([b"\n", b"a,b", b"\r\n", b"\x00", b"\xff" * 40]),
                               max_size=600).map(b"".join)),
       byte=st.sampled_from([10, 0, 13, 255, 44]), cut=st.integers(0, 40))
def test_count_byte_equals_bytes_count(data: bytes, byte: int, cut: int) -> None:
    """The kernel's vectorised count (lanes of 32 bytes, runs of 255 of them, a tail) is ``bytes.count``,
    also from an unaligned start (a memoryview cut into the bytes)."""
    assert native.KERNEL is not None
    assert native.count_byte(data, byte) == data.count(bytes((byte,)))
    view = memoryview(data)[cut:]
    assert native.KERNEL.count_byte(view, byte) == bytes(view).count(bytes((byte,)))


@needs_kernel
def test_count_byte_past_one_run_of_lanes() -> None:
    """A run of every byte value, longer than a lane can count (255 * 32 bytes) many times over."""
    data = bytes(range(256)) * 1000 + b"\n" * 70000
    for byte in (0, 10, 255):
        assert native.count_byte(data, byte) == data.count(bytes((byte,)))


def test_count_byte_without_kernel_is_bytes_count(pure) -> None:
    assert native.count_byte(b"a\nb\n\n", 10) == 3


DATE_BYTES = st.text(alphabet="0123456789/-.: Tx\u00e9\t\x00", max_size=14)
#: A date's shape with any byte at each place: the read/regex/no-match edges are one byte apart.
DATE_SHAPED = st.builds(lambda parts: "".join(parts), st.tuples(
    *[st.sampled_from(list("0123456789") + extra) for extra in (
        [" ", "x"], ["/", ""], ["/", "-", ".", "1"], ["1", "-"], ["7"], ["-", "/", ".", "x"], ["2"], ["0", "/"],
        ["2"], ["3", ""], ["", "1", " ", "x", "\u00e9"])]))


@needs_kernel
@SETTINGS
@given(st.lists(st.one_of(DATE_BYTES, DATE_SHAPED, st.sampled_from(["17/07/2023 10:11:12", "07-17-2023", "1/2/2023",
                                                        " 01/02/2023", "01.02.23", "17-Jul-2023", ""])),
                max_size=40), st.integers(0, 3))
def test_date_fields_equal_numpy_passes(values, pad):
    """``dateorder.numeric_fields``' byte reading by the kernel: each value's status (read, for the
    regex, cannot match), and for the read ones its fields, as the numpy passes give them."""
    from cdrnet.loader.dateorder import date_fields_pure

    arr = _array(values, True, pad)
    got = native.date_fields(arr)
    assert got is not None
    want = date_fields_pure(arr)
    assert np.array_equal(got[0], want[0])
    read = want[0] == 1
    for g, w in zip(got[1:], want[1:], strict=True):
        assert np.array_equal(g[read], w[read])
