"""Small dumps of one layout normalised as one block, then finished each as its own.

Real cases are hundreds of per-subscriber dumps of a few hundred to a few thousand rows.
Normalising a block costs a fixed ~70 ms of CPU (about a hundred pandas/Arrow calls)
however few its rows, so 400 small dumps paid ~28 s before their rows. Here the next few
small dumps are looked at ahead: each is opened, detected and split into rows, and its date
order decided, exactly as its own parse would (a :class:`~cdrnet.loader.parse.DumpParser`
that stops at its first block to normalise, :class:`~cdrnet.loader.parse.Captured`). The
blocks read the same way (same layout, columns, date order) are concatenated and normalised
once, with each row's dump as a group: every step of the normaliser is per row, and its
counts come back per group. The result is split back per dump (line numbers carry the dump
in their high bits), and each dump is then parsed for real with its block's output handed
in (``DumpParser.precomputed``): duplicates, strays, rejects, the quality summary and the
store's files are each dump's own, so the workspace is the one dump-by-dump parsing writes
(``tests/test_ingest_smallbatch.py`` compares every table, reject file and report).

Memory is bounded by bytes, not dumps: a look-ahead holds at most :data:`BATCH_BYTES` of input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from cdrnet.errors import CdrnetError
from cdrnet.loader.detect import Detection
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import BlockResult, Options, normalise_block
from cdrnet.loader.parse import (
    BlockOutput,
    Captured,
    DumpParser,
    PreparedBlock,
    complete_block,
    normalise_prepared,
    prepare_block,
)
from cdrnet.loader.sources import DumpSource
from cdrnet.loader.textblocks import BLOCK_SIZE, ReadBlocks

#: Input bytes normalised together at most: half a block of a big file (about 35k rows). The
#: look-ahead holds its dumps' normalised rows until each dump's parse takes them, so it costs
#: more memory than its bytes: 8 MB kept the peak near the big-file path's (docs/benchmarks.md).
BATCH_BYTES = BLOCK_SIZE // 2
#: A dump at most this big is read ahead and normalised with others: the fixed ~70 ms of a
#: normaliser call weighs most on dumps of a few thousand rows; bigger ones pay it once each.
SMALL_DUMP_BYTES = BATCH_BYTES // 4
#: Line numbers carry their dump in the bits above these while normalised together.
_LINE_BITS = 40


def batchable(source: DumpSource) -> bool:
    """A plain text dump small enough to be normalised with others."""
    return source.kind == "text" and source.size is not None and source.size <= SMALL_DUMP_BYTES


def _reading(prep: PreparedBlock) -> tuple:
    """What must be equal for blocks to be normalised as one: how their rows read."""
    det = prep.det
    assert det.layout is not None and det.decision is not None
    return (id(det.layout), tuple(det.columns), tuple(sorted(det.index.items())),
            tuple(sorted((k, tuple(v)) for k, v in det.alternatives.items())), det.decision.order, prep.part,
            tuple(str(t) for t in prep.frame.dtypes))


def _group_rows(group: np.ndarray, n: int) -> list[np.ndarray]:
    """Each group's row positions: one range each when the rows come in group order (they do: every
    step of the normaliser keeps its rows' order), else a mask per group."""
    if not len(group) or (np.diff(group) >= 0).all():
        bounds = np.searchsorted(group, np.arange(n + 1)).tolist()
        return [np.arange(bounds[g], bounds[g + 1]) for g in range(n)]
    return [np.flatnonzero(group == g) for g in range(n)]


#: Whether pandas' Arrow arrays wrap an Arrow array as they are (``_from_pyarrow_array``, pandas 3);
#: pandas 2, which pyproject.toml allows, has no such method.
_WRAPS = callable(getattr(pd.arrays.ArrowExtensionArray, "_from_pyarrow_array", None))


def _rows_of(values: object, lo: int, hi: int) -> object:
    """Rows [lo, hi) of one column's array, as a view of the batch's: what ``iloc[lo:hi]`` gives,
    without its per-column pandas bookkeeping (most of splitting a batch back, ``_split``).

    Not copied: the look-ahead holds every dump's rows of a batch until each dump's parse takes
    them, so copies held about as much as the batch, and copying cost ~0.1-0.3 CPU s on the
    400-dump case (~9,300 column copies, fresh pages each). A batch's buffers now live until its
    last dump is written: +0-30 MB of peak on that case (320-330 -> 324-356 MB, docs/benchmarks.md;
    +100 MB when views were first tried, before each dump's frames were collected at its commit).
    Each dump's rows are its own range, so a step that writes into its columns touches no other
    dump's rows.
    """
    if isinstance(values, pd.arrays.ArrowStringArray | pd.arrays.ArrowExtensionArray):
        if not _WRAPS:  # pandas 2: its slice is a view too (with more checks)
            return values[lo:hi]
        return values._from_pyarrow_array(values._pa_array.slice(lo, hi - lo))  # noqa: SLF001 - same dtype
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return values.to_numpy()[lo:hi]
    if isinstance(values, np.ndarray):
        return values[lo:hi]
    return values[lo:hi]  # type: ignore[index] - any other extension array: its own slice


def _constant_text(value: str, n: int, like: object) -> object:
    """``value`` on ``n`` rows as ``pd.Series(value, index=...).array`` gives it (pandas' ``str``), built
    in Arrow when ``like`` (the batch's column) is Arrow text: pandas' broadcast made a Python object
    per row, 7,500 a dump here."""
    if isinstance(like, pd.arrays.ArrowStringArray):
        if not _WRAPS:  # pandas 2: the broadcast, in the column's dtype
            return pd.Series(value, index=pd.RangeIndex(n), dtype=like.dtype).array
        part = pa.chunked_array([pa.repeat(pa.scalar(value, pa.large_string()), n)])
        return like._from_pyarrow_array(part)  # noqa: SLF001 - same dtype, new buffers
    return pd.Series(value, index=pd.RangeIndex(n)).array


def _own_rows(sessions: pd.DataFrame, lo: int, hi: int, offset: int, sha: str, lines: np.ndarray) -> pd.DataFrame:
    """One dump's rows [lo, hi) of a batch's sessions, as ``sessions.iloc[lo:hi]``, with
    ``dump_sha256`` and ``source_line`` set as ``assign`` sets them, and the index less ``offset``
    (each dump's own row positions). ``dump_sha256`` is built per dump (Arrow's ``repeat``), not
    taken from the batch's ``""``."""
    index = sessions.index[lo:hi] - offset
    columns = sessions.columns
    at_sha, at_line = columns.get_loc("dump_sha256"), columns.get_loc("source_line")
    arrays = [None if k in (at_sha, at_line) else _rows_of(values, lo, hi)
              for k, values in enumerate(sessions._iter_column_arrays())]  # noqa: SLF001
    arrays[at_sha] = _constant_text(sha, hi - lo, sessions._get_column_array(at_sha))  # noqa: SLF001
    arrays[at_line] = lines
    return pd.DataFrame._from_arrays(arrays, columns=columns, index=index, verify_integrity=False)  # noqa: SLF001


def _split(result: BlockResult, preps: list[PreparedBlock], offsets: np.ndarray) -> list[BlockResult]:
    """One normalised block of several dumps, back as each dump's own result."""
    sessions = result.sessions
    line = sessions["source_line"].to_numpy()
    rej_line = result.rejects["line"].to_numpy(dtype=np.int64)
    rej_reason = result.rejects["reason"].to_numpy()
    mask_low = (1 << _LINE_BITS) - 1
    group = (line >> _LINE_BITS).astype(np.int64)
    rows_of = _group_rows(group, len(preps))
    rejects_of = _group_rows(rej_line >> _LINE_BITS, len(preps))
    nondata = np.asarray(result.nondata)
    # Rows in dump order (every step of the normaliser keeps its rows' order): each dump a range.
    by_range = (sessions.columns.is_unique and {"dump_sha256", "source_line"} <= set(sessions.columns)
                and bool((np.diff(group) >= 0).all()))
    out = []
    for g, prep in enumerate(preps):
        rows, rej = rows_of[g], rejects_of[g]
        if by_range:
            lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
            own = _own_rows(sessions, lo, hi, int(offsets[g]), prep.sha, line[lo:hi] & mask_low)
        else:
            own = sessions.iloc[rows]
            own = own.assign(dump_sha256=prep.sha, source_line=line[rows] & mask_low)
            own.index = own.index - offsets[g]
        own_rej = pd.DataFrame({"line": rej_line[rej] & mask_low, "reason": rej_reason[rej]})
        stats = {k: int(v[g]) for k, v in result.stats.items()}
        out.append(BlockResult(own, own_rej, int(nondata[g]), stats, result.key_hash[rows], result.row_hash[rows]))
    return out


def normalise_together(preps: list[PreparedBlock], opts: Options) -> list[BlockResult]:
    """Each prepared block's normalised rows, blocks read the same way normalised as one."""
    results: list[BlockResult | None] = [None] * len(preps)
    groups: dict[tuple, list[int]] = {}
    for i, prep in enumerate(preps):
        assert prep.det.layout is not None
        if prep.det.layout.kind != "sessions" or not len(prep.frame):
            results[i] = normalise_prepared(prep, opts)
        else:
            groups.setdefault(_reading(prep), []).append(i)
    for members in groups.values():
        if len(members) == 1:
            results[members[0]] = normalise_prepared(preps[members[0]], opts)
            continue
        own = [preps[i] for i in members]
        sizes = np.array([len(p.frame) for p in own], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        group = np.repeat(np.arange(len(own), dtype=np.int64), sizes)
        frame = pd.concat([p.frame for p in own], ignore_index=True)
        for p in own:  # held once, in the concatenation (bounds the look-ahead's memory)
            p.frame = p.frame.iloc[:0]
        lines = np.concatenate([p.lines.astype(np.int64) for p in own]) + (group << _LINE_BITS)
        result = normalise_block(frame, lines, own[0].det, opts, "", own[0].part, groups=group)
        for i, part in zip(members, _split(result, own, offsets), strict=True):
            results[i] = part
    return [r for r in results if r is not None]


@dataclass
class LookAhead:
    """First blocks of small dumps normalised ahead, for their own parses to take
    (``DumpParser.precomputed`` and ``DumpParser.detections``)."""

    precomputed: dict[tuple, BlockOutput] = field(default_factory=dict)
    detections: dict[tuple[str, str], Detection] = field(default_factory=dict)
    name_lines: dict[tuple, list[int]] = field(default_factory=dict)  # DumpParser.name_lines
    replays: dict[str, ReadBlocks] = field(default_factory=dict)  # DumpParser.replays: each dump read once

    def lend(self, parser: DumpParser) -> None:
        """Let ``parser`` take what was read ahead (each entry once: it is popped when used)."""
        parser.precomputed, parser.detections, parser.name_lines = self.precomputed, self.detections, self.name_lines
        parser.replays = self.replays


def look_ahead(sources: Iterable[DumpSource], layouts: list[Layout], opts: Options) -> LookAhead:
    """The first block of each of ``sources`` normalised, blocks read the same way as one.

    A source that cannot be read ahead (no layout, unreadable, nothing to normalise) is simply
    not: its own parse meets the same condition and reports it as a one-dump run would. Each
    dump's blocks are kept as read (``LookAhead.replays``), so its own parse does not read the file again.
    """
    parser = DumpParser(layouts, opts, _no_sink, _no_sink)
    parser.capture = True
    captured: list[Captured] = []
    for src in sources:
        try:
            parser.parse(src, src.sha256())
        except Captured as c:
            captured.append(c)
        except Exception:  # noqa: BLE001, S112 - its own parse meets it again and reports it
            continue
    preps, ready = [], []
    for c in captured:
        try:
            preps.append(prepare_block(c.data, c.first, c.det, opts, c.key[0], c.part, c.name))
        except CdrnetError:
            continue  # e.g. dates that read both ways: its own parse refuses it, the others still load
        ready.append(c)
        c.data = b""  # held once, in its prepared block
    ahead = LookAhead(name_lines=parser.name_lines, replays=parser.replays)
    for c, prep, result in zip(ready, preps, normalise_together(preps, opts), strict=True):
        ahead.precomputed[c.key] = complete_block(prep, result)
        ahead.detections[(c.key[0], c.part)] = c.detection
    return ahead


def _no_sink(*_: object) -> tuple:
    raise AssertionError("a look-ahead parse never reaches its sinks")
