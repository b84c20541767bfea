"""The link's read path: fewer columns, categoricals, one Arrow table; the same sessions and edges.

``Workspace.link`` reads only the engine's columns, the repeating texts as categoricals, and the
workspace picks its rows in Arrow before one conversion to pandas (docs/benchmarks.md, "The link's
memory"). These tests hold the results to what the previous read path (a pandas frame per dump,
concatenated, de-duplicated and filtered in pandas, every column as text) gave.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.analysis.cousage import LINK_CATEGORICAL, LINK_COLUMNS, LinkParams, link
from cdrnet.analysis.observed import Coverage
from cdrnet.synth.writers import render
from cdrnet.workspace import Workspace, _select_sessions, first_of_each_key
from tests.conftest import ingest, make_sessions
from tests.helpers import frame, sess

HEX = "0123456789abcdef"
#: Keys that repeat, keys whose first 16 hex digits (the 64-bit hash) agree while the rest differs,
#: keys of other lengths, non-hex and non-ASCII text, and nulls.
_KEYS = st.one_of(
    st.sampled_from(["a" * 32, "b" * 32, "a" * 16 + "0" * 16, "a" * 16 + "1" * 16, "0" * 32, "None"]),
    st.text(HEX, min_size=32, max_size=32),
    st.text(HEX, min_size=0, max_size=40),
    st.text(min_size=0, max_size=34),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_KEYS, max_size=60), st.lists(st.integers(0, 60), max_size=4))
def test_first_of_each_key_is_pandas_duplicated(keys, cuts):
    bounds = sorted({0, len(keys), *(c for c in cuts if c <= len(keys))})
    chunks = [pa.array(keys[a:b], type=pa.string()) for a, b in zip(bounds, bounds[1:], strict=False)]
    column = pa.chunked_array(chunks, type=pa.string())
    want = ~pd.Series(keys, dtype=object).duplicated(keep="first").to_numpy(bool)
    assert np.array_equal(first_of_each_key(column), want)


def test_first_of_each_key_compares_text_where_hashes_collide():
    same_hash = ["f" * 16 + "0" * 16, "f" * 16 + "1" * 16, "f" * 16 + "0" * 16, "e" * 32]
    column = pa.chunked_array([pa.array(same_hash[:1]), pa.array(same_hash[1:])])
    assert first_of_each_key(column).tolist() == [True, True, False, True]


@pytest.fixture(scope="module")
def overlapping(tmp_path_factory) -> Workspace:
    """Two subscribers over five dumps; the parts of each subscriber's week overlap (sessions
    delivered twice), and one dump has no volumes (a nullable integer column)."""
    root = tmp_path_factory.mktemp("overlap")
    ws = Workspace(root / "ws").create()
    a = make_sessions(40, msisdn="919876543210", seed=3)
    b = make_sessions(30, msisdn="919812345678", seed=4)
    nulls = b.iloc[20:].copy()
    nulls["uplink"] = nulls["uplink"].astype("Int64").where(nulls.index % 2 == 0)
    parts = {"a1": a.iloc[:25], "a2": a.iloc[15:], "b1": b.iloc[:18], "b2": b.iloc[12:22], "b3": nulls}
    for name, rows in parts.items():
        (root / f"{name}.csv").write_text(render(rows, "paper"))
    res = ingest(ws, *(root / f"{n}.csv" for n in parts))
    assert not res.failed and sum(r.duplicates_of_other_dumps for r in res.loaded) > 0
    return ws


def _old_sessions(ws: Workspace, since, until, msisdns, columns, dedupe) -> pd.DataFrame:
    """What ``Workspace.sessions`` returned before: a frame per dump, concatenated, then pandas."""
    cols = None if columns is None else list(dict.fromkeys(["session_key", *columns]))
    if cols is not None and (since is not None or until is not None):
        cols = list(dict.fromkeys([*cols, "start_utc"]))
    if cols is not None and msisdns is not None:
        cols = list(dict.fromkeys([*cols, "msisdn"]))
    frames = [pq.read_table(p, columns=cols).to_pandas() for _, p in ws.dump_files()]
    return _select_sessions(pd.concat(frames, ignore_index=True), since, until, msisdns, dedupe)


_BOUND = st.one_of(st.none(), st.integers(0, 60).map(
    lambda h: pd.Timestamp("2023-04-17 00:00", tz="UTC") + pd.Timedelta(hours=h)))


@settings(max_examples=40, deadline=None)
@given(since=_BOUND, until=_BOUND, who=st.sampled_from([None, [], ["919876543210"], ["919812345678", "1"]]),
       columns=st.sampled_from([None, LINK_COLUMNS, ["msisdn"], ["uplink", "dest_port"]]), dedupe=st.booleans())
def test_sessions_equal_the_per_dump_frames(overlapping, since, until, who, columns, dedupe):
    got = overlapping.sessions(since, until, who, columns=columns, dedupe=dedupe)
    want = _old_sessions(overlapping, since, until, who, columns, dedupe)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_link_columns_as_categoricals_hold_the_same_values(overlapping):
    got = overlapping._sessions(columns=LINK_COLUMNS, categorical=LINK_CATEGORICAL)
    want = overlapping.sessions(columns=LINK_COLUMNS)
    assert list(got.columns) == list(want.columns)
    for name in LINK_CATEGORICAL:
        assert isinstance(got[name].dtype, pd.CategoricalDtype)
        got[name] = got[name].astype(want[name].dtype)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("mode", ["start", "overlap"])
def test_workspace_link_equals_link_of_every_column(overlapping, mode):
    params = LinkParams(mode=mode, window_s=3600)
    got = overlapping.link(params).edges
    everything = overlapping.sessions()
    assert not isinstance(everything["dump_sha256"].dtype, pd.CategoricalDtype)
    want = link(everything, params, coverage=overlapping.coverage()).edges
    assert len(got)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def _case(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subs = [f"9198000000{i:02d}" for i in range(6)]
    rows = []
    for _ in range(300):
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 8)),
                                                          seconds=int(rng.integers(0, 2400)))
        app = str(rng.choice(["wa", "meta", "tg", "call", "web"]))
        rows.append(sess(str(rng.choice(subs)), str(start), app=app, cell=str(rng.choice(["", "c1", "c2"])),
                         dur=int(rng.integers(1, 200))))
    f = frame(rows)
    f["dump_sha256"] = rng.choice(["s1", "s2", "s3"], len(f))
    return f


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), mode=st.sampled_from(["start", "overlap"]),
       apps=st.sampled_from([None, ["whatsapp"], ["Telegram", "meta"]]),
       scopes=st.fixed_dictionaries({"s1": st.sampled_from(["flow", "record", "allocation"]),
                                     "s2": st.sampled_from(["flow", "record"])}),
       covered=st.integers(0, 6))
def test_categorical_columns_give_the_same_edges(seed, mode, apps, scopes, covered):
    """Every column ``Workspace.link`` reads as a categorical, against the same frame as text.
    Per-dump scopes (a record's end, an allocation) decide which flows' ends and volumes count;
    subscribers beyond ``covered`` have no period and get their dumps' row spans."""
    f = _case(seed)
    subs = sorted(f["msisdn"].unique())[:covered]
    periods = pd.DataFrame({"msisdn": subs, "sha256": "s1", "source": "preamble",
                            "start_utc": pd.Timestamp("2023-12-30", tz="UTC"),
                            "end_utc": pd.Timestamp("2024-01-12 23:59:59", tz="UTC")})
    cov = Coverage(periods, "UTC", {k: (v, v) for k, v in scopes.items()})
    params = LinkParams(mode=mode, apps=apps)
    want = link(f, params, coverage=cov).edges
    # Categories in no sorted order (as a Parquet dictionary gives them) and unused ones.
    cat = f.assign(**{c: pd.Categorical(f[c], categories=[*pd.unique(f[c].dropna())[::-1], "unused"])
                      for c in LINK_CATEGORICAL})
    got = link(cat, params, coverage=cov).edges
    assert len(want)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.fixture(scope="module")
def with_calls(tmp_path_factory) -> Workspace:
    """A simulated case with voice/SMS CDRs and tower dumps beside the IPDRs (co-location's sightings)."""
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate
    from tests.conftest import SIM_ORDER

    root = tmp_path_factory.mktemp("calls")
    simulate(build_scenario("calls", subscribers=10, days=4, seed=7), root / "case")
    ws = Workspace(root / "ws").create()
    assert not ingest(ws, root / "case" / "dumps", date_order=SIM_ORDER).failed
    return ws


@pytest.mark.parametrize("window", [180, 900])
def test_workspace_link_with_call_records_equals_link_of_every_column(with_calls, window):
    params = LinkParams(window_s=window)
    got = with_calls.link(params).edges
    want = link(with_calls.sessions(), params, coverage=with_calls.coverage(), calls=with_calls.calls()).edges
    assert len(got) and got["coloc_obs"].sum() > 0
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_categorical_columns_give_the_same_units(seed):
    """Each channel's bursts, row for row: a categorical's ``factorize(sort=True)`` follows its
    categories' order, not the text's, so the channels turn the columns they read back into text."""
    from cdrnet.analysis.units import bursts, call_sessions, cell_sessions, messaging_sessions

    f = _case(seed)
    cat = f.assign(**{c: pd.Categorical(f[c], categories=[*pd.unique(f[c].dropna())[::-1], "unused"])
                      for c in LINK_CATEGORICAL})
    for units in (messaging_sessions, call_sessions, cell_sessions):
        want, got = bursts(units(f), 180), bursts(units(cat), 180)
        assert len(want)
        pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["b", "a", "c1", "c10", "c2", "", "é", "Z"])), max_size=40),
       st.randoms(use_true_random=False))
def test_sorted_codes_of_a_categorical_are_factorize_of_its_text(values, rnd):
    from cdrnet.analysis.units import sorted_codes

    text = pd.Series(values, dtype="str")
    cats = sorted({v for v in values if v is not None} | {"unused"})
    rnd.shuffle(cats)
    codes, uniques = sorted_codes(text.astype(pd.CategoricalDtype(cats)))
    want_codes, want_uniques = pd.factorize(text, sort=True)
    assert np.array_equal(codes, want_codes)
    pd.testing.assert_index_equal(uniques, want_uniques)


def test_old_cell_keys_read_as_categoricals_in_todays_keys(ws, tmp_path):
    """A file an older cdrnet wrote has its cell keys rewritten when read (``upgrade_stored_cells``),
    as plain text: the link's read makes them a categorical again, in today's keys."""
    from tests.conftest import SIM_ORDER
    from tests.test_cell_key_upgrade import CELLS_TODAY, _as_older_cdrnet_wrote

    s = make_sessions(8)
    s["cell_id"] = [CELLS_TODAY[i % 3] for i in range(len(s))]
    (tmp_path / "a.csv").write_text(render(s, "airtel"))
    ingest(ws, tmp_path / "a.csv", date_order=SIM_ORDER)
    today = ws.sessions()["cell_id"].tolist()
    _as_older_cdrnet_wrote(next(iter(ws.dump_files()))[1], "cell_id")
    got = Workspace(ws.root)._sessions(columns=LINK_COLUMNS, categorical=LINK_CATEGORICAL)["cell_id"]
    assert isinstance(got.dtype, pd.CategoricalDtype) and got.astype(str).tolist() == today


def test_dumps_of_different_schemas_are_aligned_as_before(overlapping, tmp_path):
    """A dump file without a column (an older schema) is read as pandas aligned it: missing values."""
    import shutil

    ws = Workspace(tmp_path / "copy")
    shutil.copytree(overlapping.root, ws.root)
    path = next(iter(ws.dump_files()))[1]
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["imei"]), path)
    want = _old_sessions(ws, None, None, None, None, True)
    assert want["imei"].isna().any()
    pd.testing.assert_frame_equal(ws.sessions(), want, check_exact=True)
    params = LinkParams(window_s=3600)
    pd.testing.assert_frame_equal(ws.link(params).edges, link(ws.sessions(), params, coverage=ws.coverage()).edges,
                                  check_exact=True)


# The engine's bursts (``bursts(..., text=False)``: categoricals, no first_key) against the text
# bursts the engine read before (docs/benchmarks.md, "The link's memory, second round").


def _text_bursts(monkeypatch) -> None:
    """Make ``link`` build every channel's bursts as text, as it did before the engine's form."""
    from cdrnet.analysis import cousage, units

    def text_bursts(frame: pd.DataFrame, gap: int, **_engine_form: bool) -> pd.DataFrame:
        return units.bursts(frame, gap)

    monkeypatch.setattr(cousage, "bursts", text_bursts)


def _cat(f: pd.DataFrame) -> pd.DataFrame:
    """``f`` with the link's repeating texts as categoricals in no sorted order, with unused ones."""
    return f.assign(**{c: pd.Categorical(f[c], categories=[*pd.unique(f[c].dropna())[::-1], "unused"])
                       for c in LINK_CATEGORICAL})


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), gap=st.sampled_from([0, 60, 180, 3600]), categorical=st.booleans())
def test_engine_bursts_are_the_text_bursts(seed, gap, categorical):
    """Same rows, same values; the categoricals' codes are the text's ``factorize`` codes (what the
    sweep and the null group by), and ``_code_of`` finds each row's subscriber as the text does."""
    from cdrnet.analysis.cousage import _code_of
    from cdrnet.analysis.units import bursts, call_sessions, cell_sessions, messaging_sessions

    f = _case(seed)
    f = _cat(f) if categorical else f
    codes = pd.Index(np.sort(f["msisdn"].astype(str).unique()[:-1]))  # one subscriber absent: -1
    for units in (messaging_sessions, call_sessions, cell_sessions):
        u = units(f)
        want, got = bursts(u, gap), bursts(u, gap, text=False)
        assert len(want) and "first_key" not in got
        for c in ("msisdn", "key"):
            assert isinstance(got[c].dtype, pd.CategoricalDtype)
            assert got[c].astype(str).tolist() == want[c].tolist()
            assert np.array_equal(pd.factorize(got[c])[0], pd.factorize(want[c])[0])
        pd.testing.assert_frame_equal(got[["t", "t_end", "n"]], want[["t", "t_end", "n"]], check_exact=True)
        assert np.array_equal(_code_of(got["msisdn"], codes), codes.get_indexer(want["msisdn"]))


def test_code_of_a_categorical_with_missing_rows_is_get_indexer():
    from cdrnet.analysis.cousage import _code_of

    values = pd.Series(pd.Categorical(["b", None, "a", "z", "b"], categories=["z", "b", "a", "q"]))
    codes = pd.Index(["a", "b", "c"])
    assert _code_of(values, codes).tolist() == codes.get_indexer(values.astype(object)).tolist() == [1, -1, 0, -1, 1]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(HEX, min_size=32, max_size=32), min_size=1, max_size=30),
       st.lists(st.integers(0, 30), max_size=4), st.lists(st.booleans(), min_size=30, max_size=30))
def test_key_hashes_chunk_by_chunk_are_key_hash_of(keys, cuts, keep):
    from cdrnet.analysis.units import _key_hashes
    from cdrnet.loader.normalize import key_hash_of

    bounds = sorted({0, len(keys), *(c for c in cuts if c <= len(keys))})
    column = pa.chunked_array([pa.array(keys[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)],
                              type=pa.string())
    series = column.to_pandas()[np.array(keep[:len(keys)])]  # a filtered copy, as the channels make
    assert np.array_equal(_key_hashes(series), key_hash_of(np.array(series.tolist(), dtype=object)))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), mode=st.sampled_from(["start", "overlap"]), categorical=st.booleans())
def test_engine_bursts_give_the_text_bursts_edges_and_matches(seed, mode, categorical):
    """Edges and every channel's matches (``keep_matches``) as with the text bursts."""
    f = _case(seed)
    f = _cat(f) if categorical else f
    params = LinkParams(mode=mode)
    got = link(f, params, keep_matches=True)
    with pytest.MonkeyPatch.context() as mp:
        _text_bursts(mp)
        want = link(f, params, keep_matches=True)
    assert len(want.edges) and len(want.matches["coloc"])
    pd.testing.assert_frame_equal(got.edges, want.edges, check_exact=True)
    for channel, m in want.matches.items():
        pd.testing.assert_frame_equal(got.matches[channel], m, check_exact=True)


@pytest.mark.parametrize("window", [180, 900])
def test_engine_bursts_with_call_records_give_the_text_bursts_edges(with_calls, window, monkeypatch):
    """The cell channel with the call records' sightings (text keys joined to the sessions')."""
    params = LinkParams(window_s=window)
    got = with_calls.link(params).edges
    _text_bursts(monkeypatch)
    want = with_calls.link(params).edges
    assert len(got) and got["coloc_obs"].sum() > 0
    pd.testing.assert_frame_equal(got, want, check_exact=True)


# The read one column at a time (``Workspace._sessions_by_column``) against the per-dump frames.


def test_sessions_read_by_column_is_the_per_dump_frames(overlapping):
    """The overlapping dumps (duplicates across dumps, a nullable integer column) are read by
    column, not by the table path's fallback, and give the per-dump frames' rows and dtypes."""
    files = [p for _, p in overlapping.dump_files()]
    cols = LINK_COLUMNS  # session_key first, as ``_sessions`` asks
    got = overlapping._sessions_by_column(files, cols, None, None, None, None, True)
    assert got is not None
    want = _old_sessions(overlapping, None, None, None, LINK_COLUMNS, True)
    assert got["uplink"].dtype == want["uplink"].dtype == np.float64
    pd.testing.assert_frame_equal(got, want[cols], check_exact=True)


@pytest.mark.parametrize("columns", [LINK_COLUMNS, ["uplink", "dest_port"], ["msisdn", "start_utc"]])
def test_sessions_of_dumps_whose_column_types_differ_are_aligned_as_before(overlapping, tmp_path, columns):
    """A requested column stored with another type in one dump: pandas aligns them, as before."""
    import shutil

    ws = Workspace(tmp_path / "copy")
    shutil.copytree(overlapping.root, ws.root)
    path = next(iter(ws.dump_files()))[1]
    table = pq.read_table(path)
    at = table.schema.get_field_index("start_utc" if "uplink" not in columns else "uplink")
    table = table.set_column(at, table.field(at).name,
                             table.column(at).cast(pa.timestamp("us", tz="UTC") if "uplink" not in columns
                                                   else pa.int32()))
    pq.write_table(table, path)
    files = [p for _, p in ws.dump_files()]
    assert ws._sessions_by_column(files, list(dict.fromkeys(["session_key", *columns])), None, None, None, None,
                                  True) is None
    for since in (None, pd.Timestamp("2023-04-18", tz="UTC")):
        want = _old_sessions(ws, since, None, None, columns, True)
        pd.testing.assert_frame_equal(ws.sessions(since, columns=columns), want, check_exact=True)
    params = LinkParams(window_s=3600)
    pd.testing.assert_frame_equal(ws.link(params).edges, link(ws.sessions(), params, coverage=ws.coverage()).edges,
                                  check_exact=True)
