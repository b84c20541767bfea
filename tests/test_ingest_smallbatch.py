"""Small dumps normalised together leave exactly the workspace dump-by-dump parsing leaves (issue 17).

``loader/smallbatch.py`` normalises the first blocks of the next small dumps read the same way
as one block, then splits the rows, rejects and counts back per dump. The case mixes layouts
and operators (Jio part files, preambles, footers), malformed rows, a re-send overlapping
another dump, the same file twice, a repeated row, a NUL-byte line, a row dated years
before its dump, and a file that is no dump; every table, reject file and report must be
the one a run without the look-ahead writes.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.loader import ingest, normalize, smallbatch
from cdrnet.loader.ingest import ingest_paths
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.loader.normalize import Options
from cdrnet.loader.signatures import load_signatures
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    sc = build_scenario("realistic", subscribers=10, days=9, seed=33, start_date="2023-07-13", malformed_share=0.02)
    simulate(sc, root / "sim")
    dumps = root / "case"
    shutil.copytree(root / "sim" / "dumps", dumps)
    files = sorted(dumps.glob("*.csv"))
    assert len(files) >= 10
    lines = files[0].read_text(encoding="utf-8").splitlines(keepends=True)
    # An operator re-send of half a dump, and the same file twice.
    (dumps / "zz_resend.csv").write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    (dumps / "copy").mkdir()
    shutil.copy(files[1], dumps / "copy" / files[1].name)
    # A row repeated inside a dump, a NUL-byte line and a row dated years away.
    text = files[3].read_text(encoding="utf-8").splitlines(keepends=True)
    body = len(text) // 2
    text.insert(body, text[body])
    text.insert(body + 2, "\x00garbage\x00line\n")
    stray = text[body + 5]
    for year in ("2023", "23"):
        if year in stray:
            text.insert(body + 6, stray.replace(year, "2011" if len(year) == 4 else "11", 1))
            break
    files[3].write_text("".join(text), encoding="utf-8")
    (dumps / "notes.txt").write_text("case notes, not a dump\n", encoding="utf-8")
    return dumps


def _canonical(ws: Workspace) -> dict:
    """Every table and report the workspace holds, without the ingest clock."""
    reports = {}
    for r in ws.reports():
        d = r.to_dict()
        d.pop("ingested_at")
        d.pop("first_ingested_at")
        reports[r.sha256] = d
    tables = {p.stem: pq.read_table(p).to_pandas() for p in sorted(ws.dumps_dir.glob("*.parquet"))}
    rejects = {p.stem: p.read_text(encoding="utf-8") for p in sorted(ws.rejects_dir.glob("*.csv"))}
    return {"reports": reports, "tables": tables, "rejects": rejects,
            "combined": (ws.root / "rejects.csv").read_text(encoding="utf-8")}


def _ingest(case, ws_path):
    ws = Workspace(ws_path).create()
    res = ingest_paths([str(case)], ws, builtin_layouts(), Options(rules=load_signatures("modern")), "modern",
                       show_progress=False)
    return ws, res


def test_small_dumps_normalised_together_equal_one_by_one(case, tmp_path, monkeypatch):
    blocks: list[int] = []  # dumps per normalise_block call of the batched run
    original = normalize.normalise_block

    def spy(*args, groups=None, **kw):
        blocks.append(1 if groups is None else len(np.unique(groups)))
        return original(*args, groups=groups, **kw)

    monkeypatch.setattr(smallbatch, "normalise_block", spy)
    ws1, r1 = _ingest(case, tmp_path / "batched")
    assert max(blocks) >= 3, blocks  # several dumps really went through one normaliser call
    monkeypatch.setattr(ingest, "batchable", lambda _source: False)
    ws2, r2 = _ingest(case, tmp_path / "one_by_one")

    assert [r.name for r in r1.loaded] == [r.name for r in r2.loaded]
    assert r1.unchanged == r2.unchanged and len(r1.unchanged) == 1
    assert [(r.name, r.kind) for r in r1.refused] == [(r.name, r.kind) for r in r2.refused]
    assert all(r.accounted for r in r1.loaded)
    one, two = _canonical(ws1), _canonical(ws2)
    assert json.dumps(one["reports"], sort_keys=True) == json.dumps(two["reports"], sort_keys=True)
    assert one["tables"].keys() == two["tables"].keys()
    for sha, table in one["tables"].items():
        pd.testing.assert_frame_equal(table, two["tables"][sha])
    assert one["rejects"] == two["rejects"]
    assert one["combined"] == two["combined"]
    # The case exercises what must stay per dump: rejects of several reasons, an overlap, counts.
    reasons = {k for r in r1.loaded for k in r.rejected}
    assert {"duplicate_row", "nul_byte"} <= reasons, reasons
    resend = next(r for r in r1.loaded if r.name.endswith("zz_resend.csv"))
    assert resend.duplicates_of_other_dumps == resend.loaded > 0
    assert len({r.layout for r in r1.loaded}) >= 3


def test_split_gives_each_dump_its_rows_lines_and_counts():
    """The per-dump results of one normaliser call are each dump's own: its SHA-256, line
    numbers, rejects and counts, as normalising the dump alone gives them."""
    from cdrnet.loader.detect import detect
    from cdrnet.loader.parse import _line_starts, normalise_prepared, prepare_block

    header = "MSISDN,START_DATE,START_TIME,END_DATE,END_TIME,DESTIP,DESTPORT,PRIVATEIP\n"
    rows = ["919812345678,13/07/2023,10:00:{s:02d},13/07/2023,10:05:00,142.250.1.{s},443,10.0.0.1\n",
            "919812345679,13/07/2023,11:00:{s:02d},13/07/2023,10:05:00,142.250.1.{s},443,10.0.0.2\n",  # rolls over
            "919812345670,13/07/2023,12:00:{s:02d},13/07/2023,12:05:00,not-an-ip,443,10.0.0.3\n"]
    opts = Options(rules=load_signatures("modern"))
    dumps = [header + "".join(rows[k % 3].format(s=k + d) for k in range(n)) for d, n in ((1, 4), (2, 7), (3, 1))]
    preps = []
    for d, text in enumerate(dumps):
        data = text.encode()
        det = detect(text.split("\n"), builtin_layouts(), f"d{d}.csv")
        body = data[_line_starts(data)[det.header_line]:]
        preps.append(prepare_block(body, det.header_line + 1, det, opts, f"sha{d}", "", f"d{d}.csv"))
    alone = [normalise_prepared(p, opts) for p in preps]
    together = smallbatch.normalise_together(preps, opts)
    for a, t in zip(alone, together, strict=True):
        pd.testing.assert_frame_equal(a.sessions.reset_index(drop=True), t.sessions.reset_index(drop=True))
        pd.testing.assert_frame_equal(a.rejects, t.rejects)
        assert (a.nondata, a.stats) == (t.nondata, t.stats)
        assert (a.key_hash == t.key_hash).all() and (a.row_hash == t.row_hash).all()
    assert together[1].rejects["reason"].tolist() == ["invalid_ip"] * 2  # rows 2 and 5 of seven
    assert together[1].rejects["line"].tolist() == [4, 7]
    assert [t.stats["end_rolled_over"] for t in together] == [1, 2, 0]  # an end on the next day
    assert set(together[2].sessions["dump_sha256"]) == {"sha2"} and together[2].sessions["source_line"].tolist() == [2]


def _split_by_positions(result, shas, offsets):
    """The reference ``_split`` had for each dump's rows: ``iloc`` with positions, then ``assign``."""
    line = result.sessions["source_line"].to_numpy()
    rows_of = smallbatch._group_rows((line >> smallbatch._LINE_BITS).astype(np.int64), len(shas))
    out = []
    for g, sha in enumerate(shas):
        own = result.sessions.iloc[rows_of[g]]
        # The dump's digest in the batch column's dtype: what a broadcast string gets on pandas 3 (on
        # pandas 2, which pyproject.toml allows, a broadcast string is Python objects).
        digest = pd.array([sha] * len(own), dtype=result.sessions["dump_sha256"].dtype)
        own = own.assign(dump_sha256=digest, source_line=line[rows_of[g]] & ((1 << smallbatch._LINE_BITS) - 1))
        own.index = own.index - offsets[g]
        out.append(own)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=5), data=st.data())
def test_split_by_ranges_equals_positions(sizes, data):
    """Each dump's rows taken as a range (a view) of every column equal ``iloc`` with positions: the
    same values, dtypes (Arrow text with NA or NaN, nullable ints, zoned times, floats, numpy ints) and
    index (with the gaps rejected rows leave), for empty dumps too; the text shares the batch's buffers."""
    from types import SimpleNamespace

    n = sum(sizes)
    group = np.repeat(np.arange(len(sizes)), sizes)
    lines = (group.astype(np.int64) << smallbatch._LINE_BITS) + np.arange(2, n + 2)
    texts = data.draw(st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=n, max_size=n))
    # The normaliser's text with NaN (pandas 3's "str"; on pandas 2, which pyproject.toml allows, "str"
    # is Python objects, so the Arrow dtype is named).
    text_nan = pd.StringDtype("pyarrow", na_value=np.nan)
    frame = pd.DataFrame({
        "msisdn": pd.array(texts, dtype=pd.StringDtype("pyarrow")),
        "app": pd.array([t or "" for t in texts], dtype=text_nan),
        "start_utc": pd.to_datetime(np.arange(n) * 61, unit="s", utc=True).as_unit("s"),
        "dest_port": pd.array([None if k % 3 == 0 else k for k in range(n)], dtype="Int32"),
        "lat": np.linspace(0, 1, n),
        "dump_sha256": pd.array([""] * n, dtype=text_nan),
        "source_line": lines,
    })
    rejected = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    kept = frame[~rejected]  # an index with gaps, as the normaliser's filtered frames have
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hashes = np.arange(len(kept), dtype=np.uint64)
    result = normalize.BlockResult(kept, pd.DataFrame({"line": np.zeros(0, dtype=np.int64), "reason": []}),
                                   np.zeros(len(sizes), dtype=np.int64), {}, hashes, hashes)
    shas = [f"sha{g}" for g in range(len(sizes))]
    got = smallbatch._split(result, [SimpleNamespace(sha=s) for s in shas], offsets)
    for own, want in zip(got, _split_by_positions(result, shas, offsets), strict=True):
        pd.testing.assert_frame_equal(own.sessions, want, check_exact=True, check_index_type="equiv")
        # A range of the batch's index is a RangeIndex exactly when the batch's is (pandas 3's iloc
        # gives one too; pandas 2's, which pyproject.toml allows, gives an int64 Index of its values).
        assert isinstance(own.sessions.index, pd.RangeIndex) is isinstance(kept.index, pd.RangeIndex)
        assert own.sessions.index.dtype == want.index.dtype == np.int64
        sha_column = own.sessions["dump_sha256"].array
        assert type(sha_column) is type(want["dump_sha256"].array) and sha_column._pa_array.type == pa.large_string()
        for name in ("msisdn", "app"):  # views of the batch's buffers, not copies (zero-copy slices)
            arr = own.sessions[name].array._pa_array
            batch = [b.address for c in kept[name].array._pa_array.chunks for b in c.buffers()[1:] if b is not None]
            assert all(b.address in batch for c in arr.chunks for b in c.buffers()[1:] if b is not None)
        sha = own.sessions["dump_sha256"].array._pa_array  # the dump's own, not a slice of the batch's ""
        assert sha.num_chunks <= 1 and sha.to_pylist() == want["dump_sha256"].tolist()


def test_small_dumps_read_once_for_look_ahead_and_parse(case, tmp_path, monkeypatch):
    """A small dump read ahead is not read from its file again by its own parse: the parse iterates
    the blocks the look-ahead kept (``DumpParser.replays``), and takes its first block's rows by
    place and length (``block_key``), as the one-by-one run reads and normalises it."""
    from cdrnet.loader import parse

    reads: list[str] = []
    kept, streamed = parse.read_all_blocks, parse.iter_blocks

    def spy_kept(stream, *a, **kw):
        reads.append(getattr(stream, "name", "?"))
        return kept(stream, *a, **kw)

    def spy_streamed(stream, *a, **kw):
        reads.append(getattr(stream, "name", "?"))
        return streamed(stream, *a, **kw)

    monkeypatch.setattr(parse, "read_all_blocks", spy_kept)
    monkeypatch.setattr(parse, "iter_blocks", spy_streamed)
    computed: list[int] = []
    original = parse.process_block
    monkeypatch.setattr(parse, "process_block", lambda *a, **kw: computed.append(1) or original(*a, **kw))
    _, res = _ingest(case, tmp_path / "ws")
    dumps = [str(p) for p in sorted(case.rglob("*.csv"))]
    assert len(dumps) >= 10 and all(r.accounted for r in res.loaded)
    counts = {name: reads.count(name) for name in dumps}
    assert max(counts.values()) == 1, counts  # every dump's text read once, ahead or by its parse
    # Every dump but the copy of one already loaded was parsed, and almost all took their rows from ahead.
    assert len(computed) < len(res.loaded) // 2, (len(computed), len(res.loaded))


@pytest.mark.parametrize("make", [
    lambda: pd.array(["a", "bb", None, "ccc", "d"], dtype=pd.StringDtype("pyarrow")),
    lambda: pd.array([1, None, 3, 4, 5], dtype=pd.ArrowDtype(pa.int64())),
])
def test_rows_and_constants_without_pandas_3s_arrow_wrapper(monkeypatch: pytest.MonkeyPatch, make) -> None:
    """pandas 2 (allowed by pyproject.toml) has no ``_from_pyarrow_array``: a batch's rows and a
    dump's constant column are then taken through pandas' own slice and broadcast, in the
    column's dtype, equal to what pandas 3 gives (an AttributeError ended the ingest before)."""
    values = make()
    rows, constant = smallbatch._rows_of(values, 1, 4), smallbatch._constant_text("x", 3, values)
    monkeypatch.setattr(smallbatch, "_WRAPS", False)  # as on pandas 2 (pandas 3's own slice needs the method)
    rows2, constant2 = smallbatch._rows_of(values, 1, 4), smallbatch._constant_text("x", 3, values)
    pd.testing.assert_extension_array_equal(rows2, rows)
    pd.testing.assert_extension_array_equal(pd.array(constant2), pd.array(constant))
