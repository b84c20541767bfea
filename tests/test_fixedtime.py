"""The fixed-width fast path reads exactly what the general (strptime) path reads (issue 17).

Every format a built-in layout declares, in both day/month orders and as a date alone, is
tried on generated texts: well-formed ones, impossible dates (31/02, 29/02 of a common year),
out-of-range times, short or padded fields, other letter cases, stray characters. A row the
fast path takes must get the general path's value, and ``parse_local`` must give what trying
each format with the general path alone gives.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.loader.dateorder import NUMERIC_DATE, formats_for_order, numeric_fields
from cdrnet.loader.fixedtime import compile_format, may_match, parse_fixed
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.loader.timeparse import NAT, _parse_format, parse_iso, parse_local


def _layout_formats() -> list[str]:
    out: dict[str, None] = {}
    for layout in builtin_layouts():
        for order in ("dmy", "mdy"):
            for fmt in formats_for_order(layout.datetime_formats, order):
                out[fmt] = None
                out[fmt.split(" ")[0]] = None  # a date column alone (dateorder._pick_reading)
    out["%d-%b-%y"] = None
    out["%d-%b-%y %H:%M"] = None
    return [f for f in out if f != "ISO8601"]


FORMATS = _layout_formats()
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@st.composite
def field_values(draw: st.DrawFn) -> dict[str, int]:
    """Fields mostly in range, sometimes just outside it (day 0, 32, month 13, second 60)."""
    def pick(lo: int, hi: int, wide_lo: int, wide_hi: int) -> int:
        return draw(st.integers(lo, hi) | st.integers(wide_lo, wide_hi))
    return {"d": pick(1, 31, 0, 99), "m": pick(1, 12, 0, 99), "Y": pick(1990, 2040, 0, 9999),
            "y": draw(st.integers(0, 99)), "H": pick(0, 23, 0, 99), "M": pick(0, 59, 0, 99),
            "S": pick(0, 59, 0, 99)}


def render(fmt: str, f: dict[str, int], pad: bool, case: int) -> str:
    """The fields written in ``fmt`` (zero-padded unless ``pad`` is False, month names in some case)."""
    widths = {"d": 2, "m": 2, "Y": 4, "y": 2, "H": 2, "M": 2, "S": 2}
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            k = fmt[i + 1]
            if k == "b":
                name = MONTHS[(f["m"] - 1) % 12]
                out.append((name, name.upper(), name.lower(), name[0] + name[1:].upper())[case % 4])
            else:
                out.append(f"{f[k]:0{widths[k]}d}" if pad else str(f[k]))
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


@st.composite
def texts(draw: st.DrawFn, fmt: str) -> str:
    text = render(fmt, draw(field_values()), draw(st.booleans() | st.just(True)), draw(st.integers(0, 3)))
    edit = draw(st.integers(0, 5))
    if edit == 1 and text:  # one character replaced
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from("0123456789/-.: Tx\u00e9\t")) + text[i + 1 :]
    elif edit == 2 and text:  # one character dropped
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + text[i + 1 :]
    elif edit == 3:  # padded or extended
        text = draw(st.sampled_from([" ", "0", ""])) + text + draw(st.sampled_from([" ", "0", ":00", ""]))
    return text


def general(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """``parse_local`` with the general path alone (each format through ``_parse_format``)."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    todo = text != ""
    for fmt in formats:
        if not todo.any():
            break
        if fmt == "ISO8601":
            parsed = parse_iso(text[todo])
        else:
            parsed = _parse_format(text[todo], fmt)
        parsed = parsed.astype("datetime64[s]")
        out[parsed[parsed.notna()].index] = parsed[parsed.notna()]
        todo &= out.isna()
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=st.sampled_from(FORMATS))
def test_values_without_the_separators_never_parse(data, fmt):
    """``may_match`` only drops values the general path refuses (texts of any layout format)."""
    values = data.draw(st.lists(st.sampled_from(FORMATS).flatmap(texts), min_size=1, max_size=40))
    text = pd.Series(values, dtype="string")
    kept = may_match(pa.array(text.array, type=pa.large_string()), np.arange(len(text)), compile_format(fmt))
    dropped = np.setdiff1d(np.arange(len(text)), kept)
    assert _parse_format(text, fmt).iloc[dropped].isna().all()


def test_every_layout_format_has_the_fast_path():
    assert FORMATS
    for fmt in FORMATS:
        assert compile_format(fmt) is not None, fmt


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=st.sampled_from(FORMATS))
def test_fast_path_reads_what_the_general_path_reads(data, fmt):
    values = data.draw(st.lists(texts(fmt), min_size=1, max_size=40))
    text = pd.Series(values, dtype="string")
    arr = pa.array(text.array, type=pa.large_string())
    rows, fast = parse_fixed(arr, np.arange(len(text)), compile_format(fmt))
    slow = _parse_format(text, fmt).to_numpy(dtype="datetime64[s]").view(np.int64)
    assert (slow[rows] == fast).all(), [(values[r], s, f) for r, s, f in zip(rows, slow[rows], fast, strict=True)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), layout=st.sampled_from(sorted({tuple(x.datetime_formats) for x in builtin_layouts()})),
    order=st.sampled_from(["dmy", "mdy", ""]))
def test_parse_local_equals_the_general_path(data, layout, order):
    fmts = formats_for_order(layout, order)
    strategies = [texts(f) for f in fmts if f != "ISO8601"] + [
        st.sampled_from(FORMATS).flatmap(texts), st.just(""), st.just("2023-07-17T10:11:12+05:30")]
    values = data.draw(st.lists(st.one_of(strategies), min_size=1, max_size=40))
    text = pd.Series(values, dtype="string", index=np.arange(len(values)) * 3 + 7)
    pd.testing.assert_series_equal(parse_local(text, fmts), general(text, fmts))


@settings(max_examples=100, deadline=None)
@given(fields=st.lists(field_values(), min_size=1, max_size=30), fmt=st.sampled_from(FORMATS))
def test_well_formed_values_take_the_fast_path(fields, fmt):
    """Valid zero-padded times are read by the fast path (else the speed-up silently vanishes)."""
    values = [render(fmt, f, True, 0) for f in fields]
    text = pd.Series(values, dtype="string")
    rows, fast = parse_fixed(pa.array(text.array, type=pa.large_string()), np.arange(len(text)), compile_format(fmt))
    slow = _parse_format(text, fmt).to_numpy(dtype="datetime64[s]").view(np.int64)
    valid = {i for i, f in enumerate(fields) if slow[i] != NAT and ("%Y" not in fmt or f["Y"] >= 1000)
             and f["S"] <= 59}
    assert valid <= set(rows.tolist())


def test_edge_dates():
    fmt = "%d/%m/%Y %H:%M:%S"
    values = ["29/02/2024 23:59:59", "29/02/2023 00:00:00", "29/02/1900 10:00:00", "29/02/2000 10:00:00",
              "31/04/2023 10:00:00", "31/12/9999 23:59:59", "01/01/1000 00:00:00", "00/01/2023 10:00:00",
              "10/00/2023 10:00:00", "10/13/2023 10:00:00", "10/10/2023 24:00:00", "10/10/2023 23:60:00",
              "10/10/2023 23:59:60", "1O/10/2023 10:00:00", "10-10-2023 10:00:00", "10/10/2023T10:00:00"]
    text = pd.Series(values, dtype="string")
    rows, _ = parse_fixed(pa.array(text.array, type=pa.large_string()), np.arange(len(text)), compile_format(fmt))
    assert [values[i] for i in rows] == ["29/02/2024 23:59:59", "29/02/2000 10:00:00", "31/12/9999 23:59:59",
                                         "01/01/1000 00:00:00"]
    pd.testing.assert_series_equal(parse_local(text, (fmt,)), general(text, (fmt,)))


def test_sliced_and_chunked_columns():
    """A column that is a slice of a bigger buffer, or in several chunks, reads the same."""
    whole = pd.Series(["", "17/07/2023 10:11:12", "x", "18/07/2023 10:11:12", "7/4/2023 1:2:3"] * 3, dtype="string")
    part = whole.iloc[3:11]
    fmts = ("%d/%m/%Y %H:%M:%S", "ISO8601")
    pd.testing.assert_series_equal(parse_local(part, fmts), general(part, fmts))
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(whole.tolist()[:4]),
                                                                      pa.array(whole.tolist()[4:])])))
    pd.testing.assert_series_equal(parse_local(chunked, fmts), general(chunked, fmts))


def regex_fields(values: list[str]) -> tuple[list[int], list[int], list[int]]:
    """``numeric_fields`` by Arrow's regex alone (what it did before the byte fast path)."""
    parts = pc.extract_regex(pa.array(values, type=pa.string()), NUMERIC_DATE)
    parts = pc.filter(parts, pc.is_valid(parts))
    f1, f2, y = (pc.cast(pc.struct_field(parts, k), pa.int64()).to_pylist() for k in ("f1", "f2", "y"))
    return f1, f2, [v + 2000 if v < 100 else v for v in y]


DATEISH = st.text(alphabet="0123456789/-. :Tx\u00e9", max_size=14)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(DATEISH, st.builds(lambda f, fmt: render(fmt, f, True, 0), field_values(),
                                                    st.sampled_from(FORMATS))), min_size=1, max_size=30))
def test_numeric_fields_fast_path_matches_the_regex(values):
    f1, f2, y = numeric_fields(pd.Series(values, dtype="string"))
    assert (f1.tolist(), f2.tolist(), y.tolist()) == regex_fields(values)


def test_numeric_fields_edge_values():
    values = ["17/07/2023 10:11:12", "07/17/2023", "1/2/2023", " 01/02/2023", "01.02.23 x", "01-02-2023x",
              "01/02/20231", "01/02/202", "17-Jul-2023", "", "99/99/9999", "01/02/23", "01/02/2023\u00e9"]
    f1, f2, y = numeric_fields(pd.Series(values, dtype="string"))
    assert (f1.tolist(), f2.tolist(), y.tolist()) == regex_fields(values)
    assert f1.tolist() == [17, 7, 1, 1, 1, 1, 99, 1, 1]


def test_iso_values_with_and_without_an_offset_in_one_column():
    """pandas refuses such a mix ("Mixed timezones detected"); hypothesis found it crashing ingest."""
    text = pd.Series(["19900101 000000", "2023-07-17T10:11:12+05:30", "2023-07-17T10:11:12", "junk"], dtype="string")
    got = parse_local(text, ("ISO8601",))
    assert got.astype("string").tolist()[:3] == ["1990-01-01 00:00:00", "2023-07-17 04:41:12", "2023-07-17 10:11:12"]
    assert got.isna().tolist() == [False, False, False, True]


@st.composite
def iso_time(draw) -> tuple[str, dt.datetime]:
    """An ISO 8601 time in one of the spellings pandas reads, with or without a UTC offset, and
    the naive time ``parse_iso`` must give it (the UTC time when it has an offset)."""
    # Mostly this era; sometimes a year pandas 2 cannot hold in nanoseconds (1000-1677, 2263-2999).
    seconds = draw(st.integers(946_684_800, 2_208_988_799) | st.integers(-30_610_224_000, 32_503_593_599))
    when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    sep, colon = draw(st.sampled_from(["T", " "])), draw(st.sampled_from([":", ""]))
    text = f"{when.year:04d}-{when:%m-%d}{sep}{when:%H}{colon}{when:%M}{colon}{when:%S}"
    offset_min = draw(st.none() | st.integers(-12 * 60, 14 * 60))
    if offset_min is None:
        return text, when
    if offset_min == 0 and draw(st.booleans()):
        return text + "Z", when
    sign, (h, m) = "-" if offset_min < 0 else "+", divmod(abs(offset_min), 60)
    text += draw(st.sampled_from([f"{sign}{h:02d}:{m:02d}", f"{sign}{h:02d}{m:02d}"] + ([f"{sign}{h:02d}"] * (m == 0))))
    return text, when - dt.timedelta(minutes=offset_min)


@given(st.lists(iso_time(), min_size=1, max_size=30))
def test_iso_values_with_and_without_offsets_read_each_as_alone(values) -> None:
    """Every value reads as it would alone, wherever the other kind stands in the column: pandas 2
    carried an offset over to the naive values after it (a naive 10:11:12 became 04:41:12), and read
    no year outside nanoseconds' range (1677-2262), which pandas 3 reads."""
    got = parse_iso(pd.Series([t for t, _ in values], dtype="string")).astype("datetime64[s]")
    assert got.tolist() == [want for _, want in values]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=st.sampled_from(FORMATS), start=st.integers(0, 3))
def test_kernel_reads_what_the_numpy_path_reads(data, fmt, start):
    """The compiled ``parse_fixed`` and ``parse_fixed_pure`` take the same rows with the same
    seconds: on a sliced array, for a subset of its rows in order, texts of any layout format."""
    from cdrnet.loader import native
    from cdrnet.loader.fixedtime import parse_fixed_pure

    if native.KERNEL is None:
        raise AssertionError("the kernel is not built")
    values = data.draw(st.lists(st.sampled_from(FORMATS).flatmap(texts) | texts(fmt), min_size=start + 1,
                                max_size=40))
    arr = pa.array(values, type=pa.large_string()).slice(start)
    every = np.arange(len(arr))
    rows = np.sort(data.draw(st.lists(st.sampled_from(every.tolist()), unique=True))).astype(np.int64)
    items = compile_format(fmt)
    for subset in (every, rows):
        want_rows, want = parse_fixed_pure(arr, subset, items)
        got_rows, got = parse_fixed(arr, subset, items)
        assert got_rows.tolist() == want_rows.tolist() and got.tolist() == want.tolist(), fmt


def test_kernel_refuses_rows_and_items_outside_the_array():
    """Rows and items are checked before any byte is read: an error, never a crash."""
    from cdrnet.loader import native
    from cdrnet.loader.fixedtime import _YEAR_START

    if native.KERNEL is None:
        raise AssertionError("the kernel is not built")
    arr = pa.array(["17/07/2023"], type=pa.large_string())
    items = compile_format("%d/%m/%Y")
    with pytest.raises(ValueError, match="outside the array"):
        native.parse_fixed(arr, np.array([1], dtype=np.int64), items, 10, _YEAR_START)
    with pytest.raises(ValueError, match="outside the width"):
        native.parse_fixed(arr, np.array([0], dtype=np.int64), items, 8, _YEAR_START)
