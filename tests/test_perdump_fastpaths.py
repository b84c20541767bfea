"""The per-dump and per-block fast paths of ingest equal the general ones (issue 17).

A case of hundreds of small dumps pays the fixed cost of every step once per dump, so the
quality summary, the stray screen, the padding filter, the header search and the split of a
small-dump batch were rewritten as a few numpy passes. Each test here runs the fast path and
a plain reference (the code it replaced, or a line-by-line Python version) on generated input,
invalid and edge cases included, and asks for the same result.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.loader import parse, textblocks
from cdrnet.loader.dedupe import HashSet
from cdrnet.loader.quality import Accumulator, DumpReport, app_kind, shared_share
from cdrnet.loader.strays import EARLIEST, RELEASED, STATED_MARGIN, StrayFilter, main_run

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the quality summary -------------------------------------------------------------------------

class ReferenceAccumulator(Accumulator):
    """The quality summary's per-block facts as pandas computed them before (the general path)."""

    def add(self, sessions, reasons, nondata, stats):  # noqa: ANN001, ANN201 - the replaced code, as it was
        r = self.report
        r.loaded += len(sessions)
        r.nondata += nondata
        rejects = pd.Series(list(reasons), dtype="string")
        if len(rejects):
            self.rejects.update(rejects.value_counts().to_dict())
        self.stats.update(stats)
        if len(sessions):
            st_ = sessions["start_utc"]
            lo, hi = st_.min(), st_.max()
            self.tmin = lo if self.tmin is None else min(self.tmin, lo)
            self.tmax = hi if self.tmax is None else max(self.tmax, hi)
            self.with_seconds += int((st_.dt.second != 0).sum())
            codes, uniques = pd.factorize(sessions["msisdn"])
            self.msisdn_set.update(uniques.tolist())
            m = pd.util.hash_array(np.asarray(uniques, dtype=object))[codes]
            t = st_.astype("int64").to_numpy().view(np.uint64)
            self.start_keys.append(m * np.uint64(0x9E3779B97F4A7C15) ^ t)
            if r.period_source == "preamble":
                period = (pd.Timestamp(r.period_start_utc), pd.Timestamp(r.period_end_utc))
                r.rows_outside_period += int(((st_ < period[0]) | (st_ > period[1])).sum())
            if "dest_port" in sessions:
                dest = sessions["dest_port"].notna() | (sessions["dest_ip"].fillna("") != "")
                r.with_destination += int(dest.sum())
                r.app_identified += int((dest & (sessions["app"] != "")).sum())
                kind = app_kind(sessions)
                r.app_named += int((dest & (kind == "named")).sum())
                r.app_generic += int((dest & (kind == "generic")).sum())
                r.app_possible += int((dest & (kind == "possible")).sum())
                self._add_volumes_general(sessions)  # the replaced code, kept for other column types

    def finish(self, *args):  # noqa: ANN002, ANN201
        keys = self.start_keys
        report = super().finish(*args)
        if report.loaded:
            report.shared_start_share = round(float(pd.Series(np.concatenate(keys)).duplicated(keep=False).mean()), 4)
        return report


_TEXT = st.sampled_from(["", "a", "web", "chat", "chat_possible", "mail", "LOW", "low", "High", "infrastructure"])
_KEYS = [f"{i:032x}" for i in (1, 2, 3, 0xABCDEF)] + [""]


@st.composite
def session_blocks(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 40))
    base = pd.Timestamp("2024-03-01", tz="UTC")

    def texts(values: list[str]) -> pd.Series:
        return pd.Series([draw(st.sampled_from(values)) or None if draw(st.booleans()) else draw(
            st.sampled_from(values)) for _ in range(n)], dtype="string")

    seconds = [draw(st.integers(-3 * 86400, 12 * 86400)) for _ in range(n)]
    ints = st.one_of(st.none(), st.integers(0, 2**40))
    return pd.DataFrame({
        "msisdn": texts(["919800000001", "919800000002", "919800000003"]),
        "start_utc": pd.Series(base + pd.to_timedelta(seconds, unit="s"), dtype="datetime64[s, UTC]"),
        "dest_port": pd.Series([draw(st.one_of(st.none(), st.integers(0, 65535))) for _ in range(n)], dtype="Int64"),
        "dest_ip": texts(["", "1.2.3.4", "::1"]),
        "app": texts(["", "WhatsApp", "Web"]),
        "app_category": texts(["", "web", "chat", "chat_possible", "mail", "push", "infrastructure"]),
        "app_confidence": texts(["", "low", "LOW", "high", "Low "]),
        "uplink": pd.Series([draw(ints) for _ in range(n)], dtype="Int64"),
        "downlink": pd.Series([draw(ints) for _ in range(n)], dtype="Int64"),
        "record_key": texts(_KEYS),
    })


@SETTINGS
@given(blocks=st.lists(session_blocks(), min_size=1, max_size=3),
       reasons=st.lists(st.lists(st.sampled_from(["invalid_time", "wrong_field_count", "invalid_ip"]), max_size=6),
                        min_size=3, max_size=3),
       stated=st.booleans())
def test_quality_summary_fast_equals_pandas(blocks: list[pd.DataFrame], reasons: list[list[str]],
                                            stated: bool) -> None:
    reports = []
    for cls in (Accumulator, ReferenceAccumulator):
        report = DumpReport("d.csv", "sha", 1)
        if stated:
            report.period_start_utc, report.period_end_utc = "2024-03-01T00:00:00+00:00", "2024-03-09T23:59:59+00:00"
            report.period_source = "preamble"
        acc = cls(report)
        for block, why in zip(blocks, reasons, strict=False):
            acc.add(block, why, 1, {"event_time_rows": 0})
        reports.append(acc.finish("flow", None).to_dict())
    assert reports[0] == reports[1]
    assert list(reports[0]["rejected"]) == list(reports[1]["rejected"])  # the report keeps the order


def test_quality_summary_volumes_of_text_columns_take_the_general_path() -> None:
    """Volumes that are not the normaliser's integers (text, say) are still counted as before."""
    block = pd.DataFrame({"msisdn": pd.Series(["9198"] * 3, dtype="string"),
                          "start_utc": pd.Series(pd.to_datetime(["2024-01-01"] * 3, utc=True)).astype(
                              "datetime64[s, UTC]"),
                          "dest_port": pd.Series([1, 2, None], dtype="Int64"),
                          "dest_ip": pd.Series(["", "", ""], dtype="string"),
                          "app": pd.Series(["", "x", "y"], dtype="string"),
                          "app_category": pd.Series(["", "web", "chat"], dtype="string"),
                          "app_confidence": pd.Series(["", "", "low"], dtype="string"),
                          "uplink": pd.Series(["10", "x", None], dtype="string"),
                          "downlink": pd.Series(["5", "7", "1.5"], dtype="string"),
                          "record_key": pd.Series(["", "", ""], dtype="string")})
    out = []
    for cls in (Accumulator, ReferenceAccumulator):
        acc = cls(DumpReport("d.csv", "sha", 1))
        acc.add(block, [], 0, {})
        out.append(acc.finish("flow", None).to_dict())
    assert out[0] == out[1] and out[0]["volume_bytes"] == 23


def test_report_dict_is_asdicts() -> None:
    from dataclasses import asdict

    report = DumpReport("d.csv", "sha", 3, rejected={"x": 2}, notes=["n"], read_options={"tz": "UTC"},
                        msisdns=["1", "2"])
    d = asdict(report)
    d["rejected_total"], d["app_identified_share"] = 2, 0.0
    assert report.to_dict() == d and list(report.to_dict()) == list(d)
    assert report.to_dict()["notes"] is not report.notes  # a copy, as asdict gives


# --- the stray screen --------------------------------------------------------------------------

def _reference_classify(f: StrayFilter, start_utc: pd.Series, days_before: Counter) -> tuple[np.ndarray, np.ndarray]:
    st_ = pd.to_datetime(start_utc, utc=True)
    today = max(f.now, RELEASED).normalize()
    stray = np.array((st_ < EARLIEST) | (st_ > today + pd.Timedelta(days=1)), dtype=bool)
    if f.period is not None:
        stray |= ((st_ < f.period[0] - STATED_MARGIN) | (st_ > f.period[1] + STATED_MARGIN)).to_numpy()
        return stray, np.zeros(len(stray), dtype=bool)
    days = st_.dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64) // 86_400
    counts = Counter(days_before)
    for d, n in zip(*np.unique(days[~stray], return_counts=True), strict=True):
        counts[int(d)] += int(n)
    run = main_run(counts)
    hold = np.zeros(len(stray), dtype=bool)
    if run is not None:
        hold = ~stray & ((days < run[0] - 31) | (days > run[1] + 31))
    return stray, hold


@SETTINGS
@given(seconds=st.lists(st.one_of(st.none(), st.integers(-40 * 365 * 86400, 110 * 365 * 86400)), max_size=30),
       stated=st.sampled_from([None, ("2024-03-01T00:00:00+00:00", "2024-03-09T23:59:59+00:00"),
                               ("2024-03-01T00:00:00.500000+00:00", "2024-03-09T23:59:59.250000+00:00")]))
def test_stray_screen_fast_equals_pandas(seconds: list[int | None], stated: tuple[str, str] | None) -> None:
    base = pd.Timestamp("2024-03-05", tz="UTC")
    start = pd.Series([pd.NaT if s is None else base + pd.Timedelta(seconds=s) for s in seconds],
                      dtype="datetime64[s, UTC]")
    f = StrayFilter(now=pd.Timestamp("2026-01-01", tz="UTC"))
    f.days[int(base.value // 86_400_000_000_000)] += 50  # an earlier block's main run
    if stated is not None:
        f.period = (pd.Timestamp(stated[0]), pd.Timestamp(stated[1]))
    want = _reference_classify(f, start, f.days)
    got = f.classify(start)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


# --- bytes: padding lines, header search, preambles, long lines -----------------------------------

def _reference_padding(data: bytes, first: int) -> tuple[bytes, np.ndarray, int]:
    """The padding filter as it was: every byte of the block classified (the general path)."""
    n = textblocks.count_lines(data)
    every = np.arange(first, first + n, dtype=np.int64)
    if not n:
        return data, every, 0
    arr = np.frombuffer(data, dtype=np.uint8)
    starts = parse._line_starts(data)[:n]
    ends = np.concatenate([starts[1:] - 1, [len(arr)]])
    last = np.maximum(ends - 1, starts)
    second = np.minimum(starts + 1, len(arr) - 1)
    cand = (parse._PAD_BYTES[arr[starts]] & parse._PAD_BYTES[arr[last]]
            & ((arr[starts] != ord('"')) | (arr[second] == ord('"')))) | (ends == starts)
    if not cand.any():
        return data, every, 0
    solid = np.add.reduceat(~parse._PAD_BYTES[arr], starts, dtype=np.int64)
    pad = (solid == 0) & cand
    if not pad.any():
        return data, every, 0
    keep_bytes = np.repeat(~pad, np.diff(np.concatenate([starts, [len(arr)]])))
    return arr[keep_bytes].tobytes(), every[~pad], int(pad.sum())


_LINE = st.lists(st.sampled_from([b",", b" ", b'"', b"'", b"\t", b"a", b"7", b";", b"|", b"\x0b", b"x,y"]),
                 max_size=8).map(b"".join)


@SETTINGS
@given(lines=st.lists(_LINE, max_size=25), final_newline=st.booleans(), first=st.integers(1, 50))
def test_padding_filter_equals_line_by_line(lines: list[bytes], final_newline: bool, first: int) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    got, numbers, padding = parse._drop_padding(data, first)
    want, want_numbers, want_padding = _reference_padding(data, first)
    assert got == want and numbers.tolist() == want_numbers.tolist() and padding == want_padding


def test_padding_filter_on_a_block_of_mostly_padding() -> None:
    """Most lines padding (an Excel sheet's used range): the one-pass branch gives the same answer."""
    data = b",,,,\n" * 500 + b"a,b,c,d\n" + b'"",,"",\n' * 300 + b" \n"
    got, numbers, padding = parse._drop_padding(data, 10)
    assert got == b"a,b,c,d\n" and numbers.tolist() == [510] and padding == 801
    want = _reference_padding(data, 10)
    assert got == want[0] and numbers.tolist() == want[1].tolist()


@SETTINGS
@given(lines=st.lists(st.sampled_from(["7021,2,3", "MSISDN,IMEI", "x msisdn_userid y", "Target No,a", "target/a-party",
                                       "Mobile No.,x", "mobile no,x", "a party number", "TARGET NUMBER"]),
                      max_size=20))
def test_header_search_finds_every_line_naming_a_subscriber_column(lines: list[str]) -> None:
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options

    layouts = builtin_layouts()
    parser = parse.DumpParser(layouts, Options(), lambda *a: a, lambda *_: None)
    names = {n.encode() for layout in layouts for n in layout.normalised.get("msisdn", ()) if n}
    data = "\n".join(lines).encode() + b"\n"
    want = [k for k, line in enumerate(data.lower().split(b"\n")) if any(n in line for n in names)]
    assert parser._name_lines(data) == want


@SETTINGS
@given(lines=st.lists(st.binary(max_size=5).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       skip=st.integers(0, 15), final_newline=st.booleans())
def test_preamble_skip_equals_line_starts(lines: list[bytes], skip: int, final_newline: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    starts = parse._line_starts(data)
    assert parse._after_lines(data, skip) == (data[starts[skip]:] if skip < len(starts) else b"")


@pytest.mark.parametrize("lengths", [[10, 20], [2 << 20], [(1 << 20) + 1], [1 << 20], [700_000, 700_000, 900_000],
                                     [300_000, (1 << 20) + 5, 10]])
def test_long_line_check_never_misses_one(lengths: list[int]) -> None:
    body = b"".join(b"x" * n + b"\n" for n in lengths)
    exact = max(lengths) > textblocks.MAX_LINE_BYTES
    assert textblocks._may_hold_long_line(body) or not exact
    if exact:
        assert textblocks.OVERLONG_MARK in textblocks._cap_long_lines(body)


# --- the small-dump batch split ------------------------------------------------------------------

@SETTINGS
@given(groups=st.lists(st.integers(0, 5), max_size=40), ordered=st.booleans())
def test_group_rows_slices_equal_masks(groups: list[int], ordered: bool) -> None:
    from cdrnet.loader.smallbatch import _group_rows

    g = np.array(sorted(groups) if ordered else groups, dtype=np.int64)
    for k, rows in enumerate(_group_rows(g, 6)):
        assert np.arange(len(g))[rows].tolist() == np.flatnonzero(g == k).tolist()


def test_hashset_reference_is_what_the_summary_uses() -> None:
    """The volume test above leans on HashSet answering as a set would."""
    s = HashSet()
    s.add(np.array([3, 1], dtype=np.uint64))
    assert s.contains(np.array([1, 2, 3], dtype=np.uint64)).tolist() == [True, False, True]



@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=300), st.integers(1, 40))
# No deadline: a loaded CI machine stalling one example past 200 ms is not a failure of shared_share.
@settings(deadline=None)
def test_shared_start_share_is_pandas_duplicated_keep_false(values, spread):
    """The share of rows whose start key recurs, by an in-place sort (the old np.unique with
    return_inverse held several copies of ten million keys: ~700 MB above them)."""
    keys = np.array([v % (2**64 // spread) for v in values], dtype=np.uint64)
    expected = float(pd.Series(keys).duplicated(keep=False).mean())
    assert shared_share(keys.copy()) == expected


@SETTINGS
@given(values=st.lists(st.sampled_from(["919800000001", "919800000002", "", "91980000000\u00e9"]), max_size=30))
def test_subscriber_codes_from_arrow_equal_pandas_factorize_and_hash(values: list[str]) -> None:
    """The summary's subscribers and their hashes from Arrow's dictionary encoding and the kernel's
    SipHash equal ``pd.factorize`` and ``pd.util.hash_array`` (what it used before)."""
    from cdrnet.loader.quality import _distinct_flags, _msisdn_codes

    arrow = pd.Series(values, dtype="string[pyarrow]")
    plain = pd.Series(values, dtype=object)
    codes, uniques = pd.factorize(plain)
    expected = pd.util.hash_array(np.asarray(uniques, dtype=object))[codes]
    for column in (arrow, plain):
        got_codes, got_uniques, got_hash = _msisdn_codes(column)
        assert got_codes.tolist() == codes.tolist()
        assert got_uniques == uniques.tolist()
        assert got_hash.tolist() == expected.tolist()
    with_missing = pd.Series([v or None for v in values], dtype="string[pyarrow]")
    tests = (lambda t: t == "", lambda t: t.endswith("1"))
    for got, want in zip(_distinct_flags(with_missing, *tests),
                         _distinct_flags(with_missing.astype(object), *tests), strict=True):
        assert got.tolist() == want.tolist()


@SETTINGS
@given(n=st.integers(0, 12), seed=st.integers(0, 2**16), shuffled=st.booleans())
def test_arrow_table_equals_pa_array_per_column(n: int, seed: int, shuffled: bool) -> None:
    """``arrow_table`` takes the Arrow strings behind text columns instead of converting them
    again: the table equals ``pa.array(column, type, from_pandas=True)`` per column (the general path)."""
    import pyarrow as pa

    from cdrnet.model import SESSION_SCHEMA
    from cdrnet.workspace import arrow_table

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for fld in SESSION_SCHEMA:
        if pa.types.is_timestamp(fld.type):
            stamps = pd.to_datetime(rng.integers(0, 2**31, n), unit="s", utc=True)
            values = pd.Series(stamps).astype("datetime64[s, UTC]")
            cols[fld.name] = values.where(rng.random(n) > 0.2)
        elif pa.types.is_integer(fld.type):
            cols[fld.name] = pd.Series(rng.integers(0, 60000, n), dtype="Int64").where(rng.random(n) > 0.3)
        elif pa.types.is_floating(fld.type):
            cols[fld.name] = pd.Series(np.where(rng.random(n) > 0.3, rng.random(n), np.nan))
        else:
            texts = [["", "a", "\u00e9t\u00e9", "x,y"][k] for k in rng.integers(0, 4, n)]
            cols[fld.name] = pd.Series(texts, dtype="str" if seed % 2 else "string").where(rng.random(n) > 0.2)
    frame = pd.DataFrame(cols)
    if shuffled:
        frame = frame[list(reversed(frame.columns))].assign(extra=1)
    ours = arrow_table(frame, SESSION_SCHEMA)
    ref_frame = frame[SESSION_SCHEMA.names]
    ref = pa.Table.from_arrays([pa.array(c, type=f.type, from_pandas=True)
                                for (_, c), f in zip(ref_frame.items(), SESSION_SCHEMA, strict=True)],
                               schema=SESSION_SCHEMA)
    assert ours.schema.equals(ref.schema) and ours.equals(ref)


@SETTINGS
@given(blocks=st.lists(session_blocks(), min_size=1, max_size=3), stated=st.booleans())
def test_quality_summary_same_on_plain_python_columns(blocks: list[pd.DataFrame], stated: bool) -> None:
    """The summary reads each column's array once (``quality.Columns``); columns that are not the
    normaliser's Arrow strings (object text, a repeated column name) take the general paths and give
    the same report."""
    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for name in out.columns:
            if isinstance(out[name].dtype, pd.StringDtype):
                out[name] = out[name].astype(object)
        return out

    def repeated(frame: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame([[1, 2]] * len(frame), columns=["extra", "extra"], index=frame.index)
        return pd.concat([frame, extra], axis=1)

    reports = []
    for convert in (lambda f: f, plain, repeated):
        report = DumpReport("d.csv", "sha", 1)
        if stated:
            report.period_start_utc, report.period_end_utc = "2024-03-01T00:00:00+00:00", "2024-03-09T23:59:59+00:00"
            report.period_source = "preamble"
        acc = Accumulator(report)
        for block in blocks:
            acc.add(convert(block), [], 0, {"event_time_rows": 0})
        reports.append(acc.finish("flow", None).to_dict())
    assert reports[0] == reports[1] == reports[2]


# --- the detector's head of a block ---------------------------------------------------------------

_HEAD_LINE = st.lists(st.sampled_from([b"a", b",", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\xc3", b"\r", b" "]),
                      max_size=6).map(b"".join)


@SETTINGS
@given(lines=st.lists(_HEAD_LINE, max_size=parse.HEAD_LINES + 40), final_newline=st.booleans())
def test_detection_head_holds_the_lines_the_detector_reads(lines: list[bytes], final_newline: bool) -> None:
    """The first HEAD_LINES lines are those of the whole megabyte decoded and split, invalid UTF-8 included
    (a truncated sequence before a newline is replaced the same either way)."""
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    got = parse.detection_head(data)
    want = data[: 1 << 20].decode("utf-8", errors="replace").split("\n")
    assert got[: parse.HEAD_LINES] == want[: parse.HEAD_LINES]
    assert len(got) == min(len(want), parse.HEAD_LINES + 1)


def test_detection_head_of_a_megabyte_cut_mid_line() -> None:
    """Fewer than HEAD_LINES lines in the first megabyte: the whole megabyte, cut as before."""
    data = b"MSISDN,IMEI\n" + b"9" * (1 << 20) + b"\n1,2\n"
    want = data[: 1 << 20].decode("utf-8", errors="replace").split("\n")
    assert parse.detection_head(data) == want


def test_detection_head_detects_as_the_whole_megabyte() -> None:
    """The detector gives the same detection from the head as from the whole first megabyte."""
    from cdrnet.loader.detect import detect
    from cdrnet.loader.layouts import builtin_layouts

    header = "Report for 919812345678\n\nMSISDN,START_DATE,START_TIME,END_DATE,END_TIME,DESTIP,DESTPORT,PRIVATEIP\n"
    row = "919812345678,13/07/2023,10:00:00,13/07/2023,10:05:00,142.250.1.1,443,10.0.0.1,extra\n"
    data = (header + row * 5000).encode()
    want = detect(data[: 1 << 20].decode().split("\n"), builtin_layouts(), "d.csv")
    assert detect(parse.detection_head(data), builtin_layouts(), "d.csv") == want


# --- the splitter's frame ---------------------------------------------------------------------------

@SETTINGS
@given(columns=st.lists(st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=0, max_size=6),
                        min_size=1, max_size=4), chunks=st.integers(1, 3), large=st.booleans())
def test_split_frame_equals_to_pandas(columns: list[list[str | None]], chunks: int, large: bool) -> None:
    """The splitter's frame built from the Arrow columns is ``to_pandas``' (dtype, index, values, nulls),
    from ``string`` columns and from the ``large_string`` ones the splitter now reads."""
    import pyarrow as pa

    n = min(len(c) for c in columns)
    cut = [k * n // chunks for k in range(chunks + 1)]
    typ = pa.large_string() if large else pa.string()
    arrays = [pa.chunked_array([pa.array(c[cut[k]:cut[k + 1]], type=typ) for k in range(chunks)],
                               type=typ) for c in columns]
    table = pa.Table.from_arrays(arrays, names=[f"c{k}" for k in range(len(columns))])
    got, want = parse._frame_of(table), parse.to_pandas(table)
    if parse._STR_DTYPE == table.to_pandas().dtypes.iloc[0]:  # pandas 3: its own mapping is the same
        pd.testing.assert_frame_equal(want, table.to_pandas(), check_exact=True)
    pd.testing.assert_frame_equal(got, want, check_index_type=True, check_column_type=True)
    assert [str(t) for t in got.dtypes] == [str(t) for t in want.dtypes]
    for a, b in zip(got._iter_column_arrays(), want._iter_column_arrays(), strict=True):
        assert type(a) is type(b)
        assert a._pa_array.type == b._pa_array.type  # what the normaliser reads (raw_arrays)


def test_splitter_reads_large_strings_into_the_frame_to_pandas_gives() -> None:
    """``_split_arrow`` asks Arrow for ``large_string`` columns and wraps them as read: the frame equals
    the one the ``string`` read and ``to_pandas`` gave (values, dtypes), and no column was copied."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from cdrnet.loader.detect import Detection

    det = Detection(layout=None, header_line=0, columns=["a", "b", "c"], index={}, delimiter=",")
    data = 'x,,"q,1"\n名前,2,\n,,\n'.encode() * 50
    frame, bad = parse._split_arrow(data, det)
    want = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=det.columns),
                          convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in det.columns},
                                                               strings_can_be_null=False))
    want = parse.to_pandas(want)  # text as the loader holds it (what to_pandas gives on pandas 3)
    assert not bad
    pd.testing.assert_frame_equal(frame, want, check_exact=True, check_index_type=True)
    assert [str(t) for t in frame.dtypes] == [str(t) for t in want.dtypes]
    assert parse._SPLIT_TYPE == pa.large_string()
    assert all(a._pa_array.type == pa.large_string() for a in frame._iter_column_arrays())


# --- the splitter's UTF-8 check ---------------------------------------------------------------------

_CELL_BYTES = st.lists(st.sampled_from([b"a", b"7", b",", b";", b'"', b'""', b" ", b"\n", b"\xc3\xa9", b"\xe2\x82\xac",
                                        b"\xff", b"\xc3", b"\x01", b"\x7f"]), max_size=60).map(b"".join)


def _split_checked(data: bytes, det: object) -> tuple[pd.DataFrame | None, list[tuple[int, str]], str]:
    """The splitter as it was: Arrow checks every cell's UTF-8 (the reference for the ASCII skip)."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad: list[tuple[int, str]] = []

    def handler(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=det.columns,
                                           block_size=max(1 << 20, len(data) + 1)),
            parse_options=pacsv.ParseOptions(delimiter=det.delimiter, quote_char='"', double_quote=True,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types={c: parse._SPLIT_TYPE for c in det.columns},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException) as e:
        return None, bad, type(e).__name__
    return parse._frame_of(table), bad, ""


@SETTINGS
@given(data=_CELL_BYTES, ncols=st.integers(1, 3), delimiter=st.sampled_from([",", ";"]))
def test_split_skips_utf8_check_only_where_it_cannot_fail(data: bytes, ncols: int, delimiter: str) -> None:
    """``_split_arrow`` reads an all-ASCII block without Arrow's UTF-8 check and any other with it: the
    rows, refused rows and errors are those of always checking (invalid UTF-8, quotes, blank lines,
    control bytes), and ``split_rows`` (its Python fallback included) gives the same as before."""
    from cdrnet.loader.detect import Detection

    det = Detection(layout=None, header_line=0, columns=[f"c{k}" for k in range(ncols)], index={}, delimiter=delimiter)
    want_frame, want_bad, want_err = _split_checked(data, det)
    try:
        frame, bad = parse._split_arrow(data, det)
        err = ""
    except Exception as e:  # noqa: BLE001 - compared with the reference's error
        frame, bad, err = None, [], type(e).__name__
    assert err == want_err
    if not err:
        assert bad == want_bad
        pd.testing.assert_frame_equal(frame, want_frame, check_exact=True, check_index_type=True)
        assert [a._pa_array.type for a in frame._iter_column_arrays()] == \
            [a._pa_array.type for a in want_frame._iter_column_arrays()]


def test_split_keeps_utf8_check_for_invalid_text() -> None:
    """A block with invalid UTF-8 is still refused by Arrow (not stored as broken text): the Python splitter
    reads it, replacing the bad bytes, as before; an ASCII block skips the check and reads the same."""
    from cdrnet.loader.detect import Detection

    det = Detection(layout=None, header_line=0, columns=["a", "b"], index={}, delimiter=",")
    bad_utf8 = b"x,\xff\nq,r\n"
    with pytest.raises(Exception, match="(?i)utf"):
        parse._split_arrow(bad_utf8, det)
    frame, lines, bad = parse.split_rows(bad_utf8, np.array([5, 6]), det)
    assert frame["b"].tolist() == ["\ufffd", "r"] and lines.tolist() == [5, 6] and not bad
    frame, bad = parse._split_arrow(b"x,y\nq,r\n", det)
    assert frame["a"].tolist() == ["x", "q"] and not bad


@SETTINGS
@given(lines=st.lists(_LINE, min_size=1, max_size=25), final_newline=st.booleans(), tail=st.integers(0, 30))
def test_padding_cut_from_the_end_equals_whole_block(lines: list[bytes], final_newline: bool, tail: int) -> None:
    """Padding near the block's end is cut with the last lines' starts found from the end (``_TAIL_LINES``
    lines at most): the same kept bytes as the whole block's line starts, whatever the limit."""
    import unittest.mock

    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    n, pad_at = parse._pad_lines_pure(data)
    if not len(pad_at):
        return
    pad = np.zeros(n, dtype=bool)
    pad[pad_at] = True
    whole = parse._line_starts(data)[:n]
    nxt = np.append(whole[1:], len(data))
    want = b"".join(data[whole[k]:nxt[k]] for k in range(n) if not pad[k])
    assert parse._line_starts_from(data, n, 0).tolist() == whole.tolist()
    with unittest.mock.patch.object(parse, "_TAIL_LINES", tail):
        assert parse._kept_lines(data, pad, n) == want
