"""The embedded store: a folder of Parquet files keyed by each dump's SHA-256.

Writes are atomic (temporary name, then rename) and a dump counts as loaded
only once its JSON report exists, so an interrupted ingest leaves nothing that
a re-run would trust or duplicate.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdrnet import __version__
from cdrnet.errors import StorageError, UsageError, WorkspaceError
from cdrnet.files import atomic_write_bytes, storage_error
from cdrnet.loader.cells import upgrade_stored_cells
from cdrnet.loader.normalize import key_hash_of
from cdrnet.loader.quality import DumpReport, resolution_by_subscriber, session_reports
from cdrnet.model import CALL_SCHEMA, SESSION_COLUMNS, SESSION_SCHEMA
from cdrnet.rejects import REJECT_COLUMNS, RejectsFile
from cdrnet.sitelists import SiteListFolder, SiteListsMixin
from cdrnet.store import StoredLinkRun

if TYPE_CHECKING:
    from cdrnet.analysis.cousage import LinkParams, LinkResult
    from cdrnet.analysis.observed import Coverage

__all__ = ["REJECT_COLUMNS", "DumpWriter", "StagedDump", "Workspace", "atomic_write_bytes"]


@dataclass(frozen=True)
class StagedDump:
    """One dump's finished temporary files (Parquet and rejects), not yet part of the workspace."""

    sha: str
    tmp_parquet: Path
    tmp_rejects: Path
    #: A call-record dump's events (None when it wrote none, or is an IPDR).
    tmp_calls: Path | None = None

#: The workspace's on-disk format (dumps/<sha>.parquet + .json, rejects/, rejects.csv). Bump it
#: when a change makes older cdrnet versions misread the folder; a different one is refused.
WORKSPACE_FORMAT = 1
FORMAT_FILE = "workspace.json"

#: Session columns with a value per row (keys, times, ports, volumes, line numbers): a Parquet
#: dictionary there only costs time and bytes, so they are stored plainly.
_UNIQUE_PER_ROW = {"session_key", "start_utc", "end_utc", "start_local", "alloc_start_utc", "alloc_end_utc",
                   "src_port", "public_port", "uplink", "downlink", "record_key", "source_line"}
#: How dumps/<sha>.parquet is written. Dictionaries only on repeating columns (subscribers,
#: destinations, cells, applications) and min/max statistics only on the columns a reader
#: filters by: less encoding CPU than zstd with Arrow's defaults, and smaller files
#: (``python -m bench.parquet_options`` compares them; figures in docs/benchmarks.md).
#: Any Parquet reader reads both.
#: Columns of one value per dump (or per sheet): zstd shrinks their plain values to as little
#: as a dictionary would, and skipping the dictionary's hash per row is ~30 % cheaper.
_ONE_PER_DUMP = {"dump_sha256", "source_part", "layout", "tz"}
#: Encodings of columns stored without a dictionary (all in the Parquet format since 2.0, read by
#: Arrow, DuckDB, Spark, polars, fastparquet). Times and line numbers grow row by row, so their
#: deltas pack into a few bits before zstd sees them; the hex session keys' lengths (all 32) are
#: stored apart from their bytes; local times share a prefix with the row before. On the 400-dump
#: case: 0.25 CPU s less encoding (of ~1.8) and 10 % smaller files (docs/benchmarks.md).
_ENCODINGS = {"start_utc": "DELTA_BINARY_PACKED", "end_utc": "DELTA_BINARY_PACKED",
              "source_line": "DELTA_BINARY_PACKED", "session_key": "DELTA_LENGTH_BYTE_ARRAY",
              "start_local": "DELTA_BYTE_ARRAY"}
#: Columns stored without zstd: a subscriber's identifiers and the network's constants (one
#: dictionary value and its run-length indices in a per-subscriber dump), coordinates (a few
#: cells' values) and line numbers (deltas of 1, bit-packed to nothing). zstd saved 0.0-0.05 MB
#: on each over the 400-dump case's 100 MB, and each compressed page costs a zstd context
#: (``ZSTD_createCCtx_advanced``: 5-6 % of the encoding under ``perf``). A dump of many
#: subscribers stores its numbers' dictionary page uncompressed (12-digit texts: a few kB).
_NOT_COMPRESSED = {"msisdn", "imsi", "imei", "imei14", "src_ip", "public_ip", "proto", "rat", "apn",
                   "lat", "lon", "source_line"}
SESSION_PARQUET_OPTIONS: dict = {
    "compression": {c: "none" if c in _NOT_COMPRESSED else "zstd" for c in SESSION_COLUMNS},
    "use_dictionary": [c for c in SESSION_COLUMNS if c not in _UNIQUE_PER_ROW | _ONE_PER_DUMP],
    "column_encoding": _ENCODINGS,
    "write_statistics": ["msisdn", "start_utc", "end_utc", "source_line"],
    # Data pages of format 2.0 (in the Parquet spec since 2.0 as the encodings above; Arrow, DuckDB,
    # Spark, polars and fastparquet read them): their null markers are stored beside the
    # compressed values, not compressed with them. ~6 % less encoding CPU on the 400-dump case.
    "data_page_version": "2.0",
}

#: Text columns handed to the Parquet writer as Arrow dictionaries (``_text_dictionary``): a
#: subscriber's identifiers and the network's constants (one value in a per-subscriber dump) and
#: the columns of one value per dump. Given a dictionary, the writer stores it and its indices as
#: they are instead of hashing every value into its own (``DictEncoderImpl::PutByteArray``), and a
#: column found constant costs one check here, not a hash per row: on the 400-dump case writing the
#: sessions took 0.13-0.3 CPU s less (of 2.3-3.2, docs/benchmarks.md) and ~25 MB less peak memory.
#: Columns of many values per dump (destinations, cells, applications) stay plain text: their
#: dictionary would cost a hash here instead of in the writer.
_DICTIONARY_COLUMNS = {"msisdn", "imsi", "imei", "imei14", "src_ip", "public_ip", "proto", "rat", "apn",
                       *_ONE_PER_DUMP}
#: The schema ``DumpWriter`` hands its tables over in: SESSION_SCHEMA with the columns above as
#: dictionaries of their text. Parquet has no dictionary type of its own (a dictionary is only how
#: a column's pages are encoded), and the file does not record this schema (``store_schema``
#: False), so every reader reads the columns back as SESSION_SCHEMA's text, as it reads the
#: files written before (``tests/test_parquet_options.py``).
STORED_SESSION_SCHEMA = pa.schema(
    [pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in _DICTIONARY_COLUMNS else f
     for f in SESSION_SCHEMA], metadata=SESSION_SCHEMA.metadata)
#: How ``DumpWriter`` writes: SESSION_PARQUET_OPTIONS, with the dictionary of the one-per-dump
#: columns kept (it is handed over, not hashed: one value and its run-length indices) and not
#: compressed (a page of a few bytes), and without Arrow's copy of the schema in the file (it
#: would make readers read the dictionary columns back as dictionaries); the schema's own
#: metadata (``CELL_KEY_SCHEME``) is added by hand (``DumpWriter``).
STORED_PARQUET_OPTIONS: dict = {
    **SESSION_PARQUET_OPTIONS,
    "compression": {c: "none" if c in _ONE_PER_DUMP else codec
                    for c, codec in SESSION_PARQUET_OPTIONS["compression"].items()},
    "use_dictionary": [c for c in SESSION_COLUMNS if c not in _UNIQUE_PER_ROW],
    "store_schema": False,
}


def arrow_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame``'s columns named in ``schema`` as an Arrow table of that schema.

    Each column is converted as ``pa.Table.from_pandas`` converts it (``pa.array(column,
    type, from_pandas=True)``), without what else that call does per table: the pandas
    metadata it builds (a JSON description of every column) is not stored, as the Parquet
    writer keeps its own schema. On a dump of a few thousand rows that was half the cost
    of handing its sessions to the writer (``python -m bench.manydumps --phases``).
    """
    names = list(frame.columns)
    if not frame.columns.is_unique or not set(schema.names) <= set(names):
        frame = frame[schema.names]  # what the general path did (and its KeyError for a missing column)
        names = schema.names
    where = {name: i for i, name in enumerate(names)}
    arrays = [_arrow_column(_column_array(frame, where[fld.name]), fld.type) for fld in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def edges_table(edges: pd.DataFrame) -> pa.Table:
    """The link run's edges as ``DataFrame.to_parquet`` converts them, with text as ``large_string``.

    pandas 3 keeps text in Arrow (``large_string``); pandas 2, which pyproject.toml allows, holds it
    as Python objects, which Arrow converts to ``string``. The stored file is the case's, so its
    types are fixed here: the same run writes the same ``link-run/edges.parquet`` under either.
    """
    table = pa.Table.from_pandas(edges, preserve_index=False)
    schema = table.schema
    for i, fld in enumerate(schema):
        if pa.types.is_string(fld.type):
            schema = schema.set(i, fld.with_type(pa.large_string()))
    return table if schema.equals(table.schema) else table.cast(schema)


def _column_array(frame: pd.DataFrame, i: int) -> object:
    """The array behind a frame's i-th column, without building a Series for it (pandas'
    per-column overhead was most of handing a small dump's sessions to the writer)."""
    getter = getattr(frame, "_get_column_array", None)
    return getter(i) if getter is not None else frame.iloc[:, i].array


def _arrow_column(values: object, typ: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """One column as ``pa.array(column, type=typ, from_pandas=True)`` converts it: the Arrow
    strings behind a text column are taken (cast to ``typ``) instead of converted again. A
    dictionary ``typ`` gives the dictionary of that text (``_text_dictionary``)."""
    if pa.types.is_dictionary(typ):
        if isinstance(values, pd.arrays.ArrowStringArray):  # its Arrow strings as they are: no cast
            return _text_dictionary(values._pa_array, typ)  # noqa: SLF001 - as above
        return _text_dictionary(_arrow_column(values, typ.value_type), typ)
    if isinstance(values, pd.arrays.ArrowStringArray) and (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        data = values._pa_array  # noqa: SLF001 - pa.array(values) goes through the same buffers
        return data if data.type == typ else data.cast(typ)
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()  # a Series of it converts as its ndarray does (NaN is a null)
    return pa.array(values, type=typ, from_pandas=True)


def _text_dictionary(values: pa.Array | pa.ChunkedArray, typ: pa.DictionaryType) -> pa.DictionaryArray:
    """``values`` (text) as a dictionary array of type ``typ``: one entry and zero indices when
    every row holds the same text (the usual case, checked without hashing: ``_constant_bytes``),
    else Arrow's ``dictionary_encode`` (the hash the Parquet writer would have done itself)."""
    if isinstance(values, pa.ChunkedArray):
        # One array: a column of several chunks handed over in chunks with dictionaries of their
        # own would make the writer fall back to plain pages for the rest of the row group.
        values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    same = _constant_bytes(values)
    if same is not None:  # indices all 0, within the one-entry dictionary: no need to validate them
        return pa.DictionaryArray.from_arrays(_zero_indices(len(values)), pa.array([same.decode()], typ.value_type),
                                              safe=False)
    encoded = pc.dictionary_encode(values)
    return pa.DictionaryArray.from_arrays(encoded.indices.cast(typ.index_type),
                                          encoded.dictionary.cast(typ.value_type))


@functools.lru_cache(maxsize=2)
def _zero_indices(n: int) -> pa.Array:
    """``n`` zero indices (int32): the constant columns of a table share one array (Arrow's
    arrays are immutable), the last two lengths are kept (a dump's blocks and its last one)."""
    return pa.array(np.zeros(n, dtype=np.int32))


def _constant_bytes(values: pa.Array) -> bytes | None:
    """The bytes of the one value every row of ``values`` (text, no null) holds, else None.

    Read from the array's offsets and data: every value as long as the first, and the data
    repeating with that period (each value equal to the one before). A few numpy passes over
    the column's offsets and bytes, where a hash would look up every value.
    """
    n = len(values)
    if not n or values.null_count:
        return None
    _, offsets_buf, data_buf = values.buffers()
    large = pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
    width = 8 if large else 4
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if large else np.int32, count=n + 1,
                            offset=values.offset * width)
    first, size = int(offsets[0]), int(offsets[1] - offsets[0])
    if int(offsets[-1]) - first != n * size:
        return None
    if size == 0:
        return b""  # offsets never decrease: equal ends mean every value is empty
    if n > 1 and not (np.diff(offsets) == size).all():
        return None
    data = np.frombuffer(data_buf, dtype=np.uint8, count=n * size, offset=first)
    if n > 1 and not np.array_equal(data[size:], data[:-size]):
        return None
    return data[:size].tobytes()


def _empty_calls_parquet() -> bytes:
    """The call table of an export with no call rows (so every loaded call dump has its table)."""
    sink = pa.BufferOutputStream()
    pq.write_table(CALL_SCHEMA.empty_table(), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _ingest_order(report: DumpReport) -> tuple[str, str]:
    """Reports oldest (first) ingest first, then by name: the order that decides which copy of a
    session several dumps deliver is kept (the first's, in every store: docs/reliability.md)."""
    return (report.first_ingested_at or report.ingested_at, report.name)


#: Session key hashes an ingest batch keeps in memory for the overlap check (8 bytes each: 32 MB).
KEY_HASHES_HELD = 1 << 22


class DumpWriter:
    """Streams one dump's sessions and rejects to temporary files.

    Parquet encoding runs on a background thread (Arrow releases the GIL while
    encoding), so the ingest loop reads and de-duplicates the next block
    meanwhile; at most two blocks wait in the queue.
    """

    def __init__(self, ws: Workspace, sha: str, name: str) -> None:
        self.ws, self.sha, self.name = ws, sha, name
        self.tmp_parquet = ws.dumps_dir / f".{sha}.parquet.tmp-{os.getpid()}"
        try:
            self.writer = pq.ParquetWriter(self.tmp_parquet, STORED_SESSION_SCHEMA, **STORED_PARQUET_OPTIONS)
            self.writer.add_key_value_metadata(SESSION_SCHEMA.metadata)  # the schema is not stored
        except OSError as exc:
            self.tmp_parquet.unlink(missing_ok=True)
            raise storage_error(exc, self.tmp_parquet.parent) from exc
        try:
            self.rejects = ws.rejects.begin(sha, name)
        except BaseException:
            self.writer.close()
            self.tmp_parquet.unlink(missing_ok=True)
            raise
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="cdrnet-parquet-writer", daemon=True)
        self._thread.start()
        # Call events (voice/SMS CDRs, tower dumps) go to calls/, written as they come: call
        # records are thousands of rows where IPDRs are millions.
        self.tmp_calls = ws.calls_dir / f".{sha}.parquet.tmp-{os.getpid()}"
        self.calls_writer: pq.ParquetWriter | None = None

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.writer.write_table(table)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the ingest thread
                    self._error = exc

    def _check(self) -> None:
        if isinstance(self._error, OSError):
            raise storage_error(self._error, self.tmp_parquet.parent) from self._error
        if self._error is not None:
            raise WorkspaceError(f"writing {self.tmp_parquet.name} failed: {self._error}") from self._error

    def _close_parquet(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.writer.close()

    def write_sessions(self, sessions: pd.DataFrame) -> None:
        self._check()
        if len(sessions):
            self._queue.put(arrow_table(sessions, STORED_SESSION_SCHEMA))

    def write_calls(self, events: pd.DataFrame) -> None:
        """One block of call events (cdrnet/model.py CALL_SCHEMA)."""
        if self.calls_writer is None:
            self.ws.calls_dir.mkdir(parents=True, exist_ok=True)
            self.calls_writer = pq.ParquetWriter(self.tmp_calls, CALL_SCHEMA, compression="zstd")
        if len(events):
            self.calls_writer.write_table(arrow_table(events, CALL_SCHEMA))

    def write_rejects(self, lines: list[int], reasons: list[str], texts: list[str], part: str) -> None:
        self.rejects.write(lines, reasons, texts, part)

    def stage(self) -> StagedDump:
        """Finish the temporary files without publishing them: a worker process parses a dump
        this far, and the parent publishes the staged dumps in input order."""
        self._close_parquet()
        self._check()
        self.rejects.close()
        tmp_calls = None
        if self.calls_writer is not None:
            self.calls_writer.close()
            tmp_calls = self.tmp_calls
        return StagedDump(self.sha, self.tmp_parquet, self.rejects.tmp, tmp_calls)

    def commit(self, report: DumpReport, key_hashes: np.ndarray | None = None) -> None:
        self.ws.publish(self.stage(), report, key_hashes)

    def abort(self) -> None:
        try:
            with contextlib.suppress(OSError):  # a full disk fails the close too; the file goes anyway
                self._close_parquet()
        finally:
            self.rejects.abort()
            self.tmp_parquet.unlink(missing_ok=True)
            if self.calls_writer is not None:
                self.calls_writer.close()
            self.tmp_calls.unlink(missing_ok=True)


def in_window(frame: pd.DataFrame, since: pd.Timestamp | None, until: pd.Timestamp | None) -> pd.Series:
    """Rows whose start lies in [since, until) (a missing bound does not bound)."""
    keep = pd.Series(True, index=frame.index)
    if since is not None:
        keep &= frame["start_utc"] >= since
    if until is not None:
        keep &= frame["start_utc"] < until
    return keep


def _select_sessions(frame: pd.DataFrame, since: pd.Timestamp | None, until: pd.Timestamp | None,
                     msisdns: list[str] | None, dedupe: bool) -> pd.DataFrame:
    """The rows of ``frame`` that :meth:`Workspace.sessions` returns, from a pandas frame."""
    if dedupe:
        frame = frame.drop_duplicates("session_key", keep="first")
    keep = in_window(frame, since, until)
    if msisdns is not None:
        keep &= frame["msisdn"].isin(set(msisdns))
    return frame[keep].reset_index(drop=True)


def _session_rows(table: pa.Table, since: pd.Timestamp | None, until: pd.Timestamp | None,
                  msisdns: list[str] | None, dedupe: bool) -> np.ndarray | None:
    """Which rows of ``table`` :func:`_select_sessions` keeps (first of each session key, in the
    window, of the subscribers), computed on those columns alone; None when it keeps them all."""
    keep = first_of_each_key(table.column("session_key")) if dedupe else np.ones(table.num_rows, dtype=bool)
    if since is not None or until is not None:
        start = pd.DataFrame({"start_utc": table.column("start_utc").to_pandas()})
        keep &= in_window(start, since, until).to_numpy(bool)
    if msisdns is not None:
        keep &= table.column("msisdn").to_pandas().isin(set(msisdns)).to_numpy(bool)
    return None if keep.all() else keep


def first_of_each_key(keys: pa.ChunkedArray) -> np.ndarray:
    """Per row, whether no row before it has the same key (``~Series.duplicated(keep="first")``).

    The keys' 64-bit hashes are compared first and only rows whose hash repeats are compared
    as text: the duplicate check of every key as text (a hash table of 3M Python strings) was
    ~0.4 GB of the link's peak on a 3M-session case, where a few keys at most repeat.
    """
    keep = np.ones(len(keys), dtype=bool)
    if len(keys) < 2:
        return keep
    try:
        hashes = np.concatenate([key_hash_of(chunk) for chunk in keys.chunks if len(chunk)])
    except UnicodeEncodeError:  # not the loader's hex keys: compared as text throughout
        return ~keys.to_pandas().duplicated(keep="first").to_numpy(bool)
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return keep
    shared = np.zeros(len(order), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    rows = np.sort(order[shared])  # every row whose hash another row has, in table order
    texts = keys.take(pa.array(rows)).to_pandas()
    keep[rows[texts.duplicated(keep="first").to_numpy(bool)]] = False
    return keep


class Workspace(SiteListsMixin):
    """A case folder: dumps/, rejects/, rejects.csv and derived outputs (a :class:`~cdrnet.store.SessionStore`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.outputs = self.root
        self.rejects = RejectsFile(self.root / "rejects", self.root / "rejects.csv")
        self._format_ok = False
        self._batch: dict[str, DumpReport] | None = None  # reports by SHA-256 during an ingest batch
        #: During an ingest batch: the dumps (SHA-256) naming each subscriber, for the overlap check.
        self._batch_subscribers: dict[str, set[str]] = {}
        self._key_hashes: dict[str, np.ndarray] = {}  # during a batch: dumps' key hashes read once (see below)
        self._key_hashes_held = 0
        self.site_lists = SiteListFolder(self.root / "cells")

    def describe(self) -> str:
        return f"workspace {self.root.resolve()}"

    @property
    def dumps_dir(self) -> Path:
        return self.root / "dumps"

    @property
    def calls_dir(self) -> Path:
        """Call events of voice/SMS CDRs and tower dumps, one Parquet per dump (reports stay in dumps/)."""
        return self.root / "calls"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    def create(self) -> Workspace:
        """Folders and the format record; an existing workspace of another format is refused."""
        self.check_format()
        try:
            self.dumps_dir.mkdir(parents=True, exist_ok=True)
            self.rejects_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create workspace {self.root}: {exc.strerror}") from exc
        if not self.format_file.exists():
            record = {"format": WORKSPACE_FORMAT, "created_by": f"cdrnet {__version__}"}
            atomic_write_bytes(self.format_file, json.dumps(record, indent=2).encode())
        return self

    @property
    def format_file(self) -> Path:
        return self.root / FORMAT_FILE

    def check_format(self) -> None:
        """Refuse a workspace written in another format (a folder without the record is format 1,
        the layout before it was recorded, and gets the record on its next write)."""
        if self._format_ok or not self.format_file.exists():
            return
        try:
            record = json.loads(self.format_file.read_text(encoding="utf-8"))
            found = record["format"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"workspace {self.root}: {FORMAT_FILE} is damaged ({exc})",
                                 f"restore it: it holds {{\"format\": {WORKSPACE_FORMAT}}} for this cdrnet") from exc
        if found != WORKSPACE_FORMAT:
            raise WorkspaceError(
                f"workspace {self.root} has format {found} ({record.get('created_by', 'unknown version')}); "
                f"this cdrnet {__version__} reads format {WORKSPACE_FORMAT}",
                "use the cdrnet version that wrote it, or ingest the original files into a new workspace")
        self._format_ok = True

    @contextmanager
    def writing(self, command: str = "ingest") -> Iterator[None]:
        """The workspace's write lock (see cdrnet/lockfile.py); temporaries of interrupted runs are
        swept only while holding it, so a concurrent run's files are never touched."""
        from cdrnet.lockfile import exclusive

        self.create()
        with exclusive(self.root, command):
            for stale in [*self.dumps_dir.glob(".*.tmp-*"), *self.calls_dir.glob(".*.tmp-*")]:
                stale.unlink(missing_ok=True)  # left by an interrupted run; never trusted
            self.rejects.clear_stale()
            yield

    def has_dump(self, sha: str) -> bool:
        """Loaded completely: a readable report and its sessions file (a damaged or half-deleted
        dump is not loaded, so ingesting the file again repairs it)."""
        try:
            record = json.loads((self.dumps_dir / f"{sha}.json").read_text(encoding="utf-8"))
            folder = self.calls_dir if record.get("kind") == "calls" else self.dumps_dir  # call records: calls/
            pq.read_metadata(folder / f"{sha}.parquet")  # the footer: a truncated file has none
        except (OSError, ValueError, AttributeError, pa.ArrowInvalid):
            return False
        return True

    def first_ingested(self, sha: str) -> str:
        """From the dump's report, which stays until a new load of it commits (damaged files or not)."""
        try:
            record = json.loads((self.dumps_dir / f"{sha}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        return str(record.get("first_ingested_at") or record.get("ingested_at") or "") \
            if isinstance(record, dict) else ""

    def forget_dump(self, sha: str) -> None:
        """Nothing to drop first: the new load's files replace the old ones when it commits (until then
        the old rows stay, so a failed re-read loses nothing)."""

    def incomplete_dumps(self) -> list[str]:
        """None: a dump's files count only once its report is written, last (a load that died leaves
        temporary files only, which the next ingest replaces)."""
        return []

    def report(self, sha: str) -> DumpReport | None:
        """One loaded dump's report, or None."""
        return self._read_report(self.dumps_dir / f"{sha}.json") if self.has_dump(sha) else None

    def _read_report(self, path: Path) -> DumpReport:
        try:
            return DumpReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise WorkspaceError(f"workspace {self.root}: the report {path.name} is damaged ({exc})",
                                 f"ingest the original file again to repair it (its SHA-256 is {path.stem}), "
                                 f"or delete dumps/{path.stem}.* to drop it") from exc

    def stager(self) -> Workspace:
        """The same folder, without this process's batch state: a worker process writes staged
        dumps with it (see :mod:`cdrnet.loader.batch`)."""
        return Workspace(self.root)

    @contextmanager
    def ingest_batch(self) -> Iterator[None]:
        """Several dumps committed in a row: workspace-wide files are written once, at the end.

        Committing a dump otherwise rebuilds ``rejects.csv`` from every dump's rejects and the
        overlap check re-reads every dump's report: work that grows with the dumps already
        loaded, paid per dump (quadratic on a case of hundreds of dumps). Inside a batch the
        reports are read once and kept up to date in memory, and ``rejects.csv`` is rebuilt
        when the batch ends, also when it ends with an error.
        """
        if self._batch is not None:  # nested: the outer batch finishes the work
            yield
            return
        self.check_format()
        self._batch, self._batch_subscribers = {}, {}
        for path in sorted(self.dumps_dir.glob("*.json")) if self.dumps_dir.exists() else []:
            with contextlib.suppress(WorkspaceError):  # a damaged report is not loaded: this run may repair it
                report = self._read_report(path)
                self._keep_in_batch(report)
        try:
            yield
        finally:
            self._batch, self._batch_subscribers = None, {}
            self._key_hashes, self._key_hashes_held = {}, 0
            self.rebuild_rejects()

    def _keep_in_batch(self, report: DumpReport) -> None:
        assert self._batch is not None
        self._batch[report.sha256] = report
        for m in report.msisdns:
            self._batch_subscribers.setdefault(m, set()).add(report.sha256)

    def publish(self, staged: StagedDump, report: DumpReport, key_hashes: np.ndarray | None = None) -> None:
        """Make a staged dump part of the workspace: the report is written last (it is what
        counts a dump as loaded, so an interruption before it leaves nothing trusted).

        ``key_hashes``: the dump's session key hashes as its duplicate filter kept them (the
        set its sessions file holds, sorted). Inside an ingest batch they are held for the
        overlap checks of the dumps after it, so its file is not read back for them.
        """
        final = (self.calls_dir if report.kind == "calls" else self.dumps_dir) / f"{staged.sha}.parquet"
        try:
            self.rejects.publish(staged.tmp_rejects, staged.sha)
            if report.kind != "calls":
                os.replace(staged.tmp_parquet, final)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                if staged.tmp_calls is None:  # an empty export still gets its table
                    atomic_write_bytes(final, _empty_calls_parquet())
                else:
                    os.replace(staged.tmp_calls, final)
                staged.tmp_parquet.unlink(missing_ok=True)
        except OSError as exc:
            raise storage_error(exc, final) from exc
        atomic_write_bytes(self.dumps_dir / f"{staged.sha}.json", json.dumps(report.to_dict(), indent=2).encode())
        self._forget_key_hashes(staged.sha)  # a dump read again replaced its sessions file
        if self._batch is not None:
            self._keep_in_batch(report)
            if key_hashes is not None and report.kind != "calls":
                self._hold_key_hashes(staged.sha, key_hashes)
        else:
            self.rebuild_rejects()

    def discard(self, staged: StagedDump) -> None:
        """Delete a staged dump's temporary files (its ingest failed or was cancelled)."""
        staged.tmp_parquet.unlink(missing_ok=True)
        staged.tmp_rejects.unlink(missing_ok=True)
        if staged.tmp_calls is not None:
            staged.tmp_calls.unlink(missing_ok=True)

    def begin_dump(self, sha: str, name: str) -> DumpWriter:
        if not self.dumps_dir.exists():
            self.create()
        return DumpWriter(self, sha, name)

    def _read_reports(self, exclude: str | None = None) -> list[DumpReport]:
        self.check_format()
        if not self.dumps_dir.exists():
            return []
        return [self._read_report(p) for p in self.dumps_dir.glob("*.json") if p.stem != exclude]

    def _unordered_reports(self, exclude: str | None = None) -> list[DumpReport]:
        if self._batch is not None:
            return [r for sha, r in self._batch.items() if sha != exclude]
        return self._read_reports(exclude)

    def reports(self, exclude: str | None = None) -> list[DumpReport]:
        """Reports of all committed dumps, oldest ingest first (``exclude``: one not to read)."""
        return sorted(self._unordered_reports(exclude), key=_ingest_order)

    def dump_files(self, exclude: str | None = None) -> Iterator[tuple[str, Path]]:
        """Each committed data-session dump's sessions file (call dumps are in ``call_files``); a missing
        one is named with the way to repair it."""
        for rep in session_reports(self.reports(exclude)):
            path = self.dumps_dir / f"{rep.sha256}.parquet"
            if not path.exists():
                raise WorkspaceError(f"workspace {self.root}: the sessions of {rep.name} are missing "
                                     f"({path.name} does not exist)",
                                     f"ingest {rep.name} again to repair it (cdrnet ingest FILE)")
            yield rep.sha256, path

    def _read_parquet(self, path: Path, columns: list[str] | None = None,
                      dictionary: list[str] | None = None, metadata: pq.FileMetaData | None = None) -> pa.Table:
        """One stored file's table; the columns named in ``dictionary`` come as Arrow
        dictionaries (pandas categoricals), whatever the file's age. With the file's ``metadata``
        (read once by a caller that reads the file column by column) its footer is not parsed again:
        reading 400 dumps' 14 columns one at a time cost ~4 CPU s more than reading them whole."""
        try:
            if metadata is None:
                table = pq.read_table(path, columns=columns, read_dictionary=dictionary)
            else:
                with pq.ParquetFile(path, metadata=metadata, read_dictionary=dictionary) as handle:
                    table = handle.read(columns=columns)
            table = upgrade_stored_cells(table)
        except (OSError, pa.ArrowInvalid) as exc:
            raise self._damaged(path, exc) from exc
        for name in dictionary or ():
            # An older file's cell keys are rewritten by the upgrade as plain strings.
            at = table.schema.get_field_index(name)
            if at >= 0 and not pa.types.is_dictionary(table.schema.field(at).type):
                table = table.set_column(at, name, pc.dictionary_encode(table.column(at)))
        return table

    def _damaged(self, path: Path, exc: Exception) -> WorkspaceError:
        if not path.exists():
            return WorkspaceError(f"workspace {self.root}: the sessions file {path.name} is missing",
                                  f"ingest the original file again to repair it (its SHA-256 is {path.stem})")
        return WorkspaceError(f"workspace {self.root}: the sessions file {path.name} is damaged ({exc})",
                              f"ingest the original file again to repair it (its SHA-256 is {path.stem})")

    def call_files(self) -> Iterator[tuple[str, Path]]:
        """The voice/SMS CDRs' and tower dumps' Parquet files."""
        for rep in self.reports():
            if rep.kind == "calls":
                yield rep.sha256, self.calls_dir / f"{rep.sha256}.parquet"

    def calls(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
              numbers: list[str] | None = None, dumps: list[str] | None = None) -> pd.DataFrame:
        """Call events starting in [since, until) in which one of ``numbers`` is a party (either
        side), of the given dumps (SHA-256s); every row as loaded (see analysis/contacts.py for
        counting a call seen from both ends once)."""
        files = [p for sha, p in self.call_files() if dumps is None or sha in set(dumps)]
        frames = [self._read_parquet(p).to_pandas() for p in files]
        frame = (pd.concat(frames, ignore_index=True) if frames else
                 CALL_SCHEMA.empty_table().to_pandas())
        keep = in_window(frame, since, until)
        if numbers is not None:
            wanted = set(numbers)
            keep &= frame["caller"].isin(wanted) | frame["callee"].isin(wanted)
        return frame[keep].reset_index(drop=True)

    def session_key_hashes(self, exclude: str | None = None, msisdns: list[str] | None = None,
                           before: DumpReport | None = None) -> np.ndarray:
        """Key hashes (first 64 bits) of other dumps' sessions (only dumps sharing a subscriber, when given;
        only dumps ingested before ``before``, when given).

        Hashes, not the 32-character keys: 8 bytes a session however large the case. ``before``: a dump
        read again keeps its place in the ingest order, so the dumps after it hold re-deliveries of its
        sessions, not it of theirs.
        """
        wanted = set(msisdns) if msisdns is not None else None
        out = [np.zeros(0, dtype=np.uint64)]
        if self._batch is None:
            # Dumps sharing a subscriber first, then in ingest order (what reports() would give, filtered):
            # sorting all of a case's reports per dump was quadratic in the dumps.
            reports = self._unordered_reports(exclude)
            if wanted is not None:
                reports = [r for r in reports if wanted.intersection(r.msisdns)]
            reports = sorted(reports, key=_ingest_order)
        elif wanted is None:
            reports = sorted((r for sha, r in self._batch.items() if sha != exclude), key=_ingest_order)
        else:  # inside an ingest batch: the dumps naming these subscribers, not a look at every report
            shas = set().union(*(self._batch_subscribers.get(m, ()) for m in wanted)) - {exclude}
            reports = sorted((self._batch[sha] for sha in shas if sha in self._batch), key=_ingest_order)
        if before is not None:
            reports = [r for r in reports if _ingest_order(r) < _ingest_order(before)]
        out += [self._dump_key_hashes(rep.sha256) for rep in session_reports(reports)]
        return np.concatenate(out)

    def recount_after_reread(self, report: DumpReport) -> None:
        """Count again, for each session dump after ``report`` in the ingest order that shares a
        subscriber with it, how many of its sessions earlier dumps delivered, and rewrite its report
        where that changed.

        A dump read again (``--replace``) with another ``--tz`` or date order has other session keys:
        a re-send after it that overlapped it no longer does (its sessions are now the only copies),
        and ``dumps`` counted them twice as re-deliveries, its distinct sessions short by as many.
        """
        if report.kind != "sessions":
            return
        subscribers = set(report.msisdns)
        later = [r for r in session_reports(self.reports()) if r.sha256 != report.sha256
                 and _ingest_order(r) > _ingest_order(report) and subscribers.intersection(r.msisdns)]
        from cdrnet.loader.ingest import count_known  # the loader imports the workspace

        for r in later:
            seen = np.unique(self._dump_key_hashes(r.sha256))
            again = count_known(seen, self.session_key_hashes(exclude=r.sha256, msisdns=r.msisdns, before=r))
            if again != r.duplicates_of_other_dumps:
                r.duplicates_of_other_dumps = again
                atomic_write_bytes(self.dumps_dir / f"{r.sha256}.json", json.dumps(r.to_dict(), indent=2).encode())
                if self._batch is not None and r.sha256 in self._batch:
                    self._batch[r.sha256] = r

    def _dump_key_hashes(self, sha: str) -> np.ndarray:
        """One dump's key hashes; inside an ingest batch each dump's are read from Parquet once.

        A subscriber's week comes in up to 15 part files, and every part's overlap check asks
        for all the other parts' keys: read each time, that is quadratic in the parts. The
        batch keeps them (8 bytes a session) up to :data:`KEY_HASHES_HELD`, beyond which they
        are read again as before, so memory stays bounded on any case.
        """
        held = self._key_hashes.get(sha)
        if held is not None:
            return held
        path = self.dumps_dir / f"{sha}.parquet"
        try:
            parts = [key_hash_of(batch.column(0))
                     for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 20, columns=["session_key"])]
        except (OSError, pa.ArrowInvalid) as exc:
            raise self._damaged(path, exc) from exc
        hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        if self._batch is not None:
            self._hold_key_hashes(sha, hashes)
        return hashes

    def _hold_key_hashes(self, sha: str, hashes: np.ndarray) -> None:
        """Keep one dump's key hashes for the rest of the batch, up to :data:`KEY_HASHES_HELD` in all."""
        if self._key_hashes_held + len(hashes) <= KEY_HASHES_HELD:
            self._key_hashes[sha] = hashes
            self._key_hashes_held += len(hashes)

    def _forget_key_hashes(self, sha: str) -> None:
        held = self._key_hashes.pop(sha, None)
        if held is not None:
            self._key_hashes_held -= len(held)

    def sessions(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                 msisdns: list[str] | None = None, *, columns: list[str] | None = None,
                 dedupe: bool = True) -> pd.DataFrame:
        """Loaded sessions starting in [since, until) of the given subscribers; a session delivered
        by several dumps appears once (unless ``dedupe`` is False)."""
        return self._sessions(since, until, msisdns, columns=columns, dedupe=dedupe)

    def _sessions(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                  msisdns: list[str] | None = None, *, columns: list[str] | None = None,
                  dedupe: bool = True, categorical: list[str] | None = None) -> pd.DataFrame:
        """:meth:`sessions`, with the text columns named in ``categorical`` as pandas categoricals
        (their Parquet dictionaries kept: a 64-character SHA-256 repeated on every row of a dump
        costs a small integer a row instead of ~70 bytes).

        The dumps are read into one Arrow table, the rows to keep are chosen on its few key
        columns, and only those rows become one pandas frame, converted column by column while
        the Arrow buffers are released (``self_destruct``): a frame per dump, their concatenation
        and the filtered copy held the sessions three times over at the peak.
        """
        files = [p for _, p in self.dump_files()]
        if not files:
            if self.reports():
                raise WorkspaceError(f"workspace {self.root} holds no data-session (IPDR) dumps, only call records",
                                     "ingest the subscribers' IPDRs; 'cdrnet contacts' reads the call records")
            raise WorkspaceError(f"workspace {self.root} holds no dumps", "run 'cdrnet ingest PATH' first")
        cols = None if columns is None else list(dict.fromkeys(["session_key", *columns]))
        if cols is not None and (since is not None or until is not None):
            cols = list(dict.fromkeys([*cols, "start_utc"]))
        if cols is not None and msisdns is not None:
            cols = list(dict.fromkeys([*cols, "msisdn"]))
        wanted = None if cols is None else set(cols)
        dictionary = [c for c in categorical or () if wanted is None or c in wanted] or None
        if cols is not None:
            frame = self._sessions_by_column(files, cols, dictionary, since, until, msisdns, dedupe)
            if frame is not None:
                return frame
        tables = [self._read_parquet(p, cols, dictionary) for p in files]
        if len({t.schema.remove_metadata() for t in tables}) > 1:
            # Files of different schemas (older dumps): pandas aligns them as it always did.
            frames = [t.to_pandas() for t in tables]
            del tables
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            del frames
            return _select_sessions(frame, since, until, msisdns, dedupe)
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        del tables
        keep = _session_rows(table, since, until, msisdns, dedupe)
        # An integer column with a null anywhere was float in the frame it was filtered from.
        floats = [n for n, c in zip(table.column_names, table.columns, strict=True)
                  if pa.types.is_integer(c.type) and c.null_count]
        if keep is not None:
            table = table.filter(pa.array(keep))
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        for name in floats:
            if frame[name].dtype.kind in "iu":
                frame[name] = frame[name].astype(np.float64)
        return frame

    def _sessions_by_column(self, files: list[Path], cols: list[str], dictionary: list[str] | None,
                            since: pd.Timestamp | None, until: pd.Timestamp | None, msisdns: list[str] | None,
                            dedupe: bool) -> pd.DataFrame | None:
        """:meth:`_sessions`' frame read one column at a time: the rows to keep are chosen on the key
        columns, then each column is read from every dump, filtered and converted to pandas before
        the next is read. None when the dumps' columns differ (older dumps: the caller aligns them).

        Arrow's memory pool keeps what it frees for the process's life (``MIMALLOC_PURGE_DELAY=-1``,
        cdrnet/allocator.py), so the read's peak of Arrow memory stays in the process through the
        engine: the whole table at once (1.26 GB of pool at 10M sessions) left the link's process
        at 2.43 GB when the engine started, against 1.67 GB read column by column.
        """
        read: dict[str, pa.ChunkedArray] = {}
        floats: list[str] = []
        try:
            footers = [pq.read_metadata(p) for p in files]
        except (OSError, pa.ArrowInvalid):
            return None  # the caller's read names the damaged file

        def column(name: str) -> pa.ChunkedArray | None:
            if name in read:
                return read[name]
            parts = [self._read_parquet(p, [name], [name] if dictionary and name in dictionary else None, footer)
                     for p, footer in zip(files, footers, strict=True)]
            if len({t.schema.remove_metadata() for t in parts}) > 1:
                return None
            chunks = pa.chunked_array([c for t in parts for c in t.column(0).chunks],
                                      type=parts[0].schema.field(0).type)
            if pa.types.is_integer(chunks.type) and chunks.null_count:
                floats.append(name)  # with a null anywhere, float in the frame it was filtered from
            return chunks

        keys = [c for c in ("session_key", "start_utc", "msisdn") if c in cols]
        for name in keys:
            got = column(name)
            if got is None:
                return None
            read[name] = got
        keep = _session_rows(pa.table(read), since, until, msisdns, dedupe)
        mask = None if keep is None else pa.array(keep)
        out: dict[str, pd.Series] = {}
        for name in cols:
            got = column(name)
            read.pop(name, None)
            if got is None:
                return None
            one = pa.table({name: got if mask is None else got.filter(mask)})
            del got
            out[name] = one.to_pandas(self_destruct=True, split_blocks=True)[name]
            del one
        frame = pd.DataFrame(out, copy=False)
        for name in floats:
            if frame[name].dtype.kind in "iu":
                frame[name] = frame[name].astype(np.float64)
        return frame

    def called(self) -> pd.DataFrame:
        """Who called or texted whom (caller -> callee: calls, sms, seconds, first/last UTC), computed
        from the call events as Neo4j's CALLED relationships are."""
        from cdrnet.analysis.contacts import aggregate

        return aggregate(self.calls())

    def resolution_by_subscriber(self) -> dict[str, int]:
        return resolution_by_subscriber(self.reports())

    def coverage(self) -> Coverage:
        from cdrnet.analysis.observed import Coverage

        return Coverage.from_reports(self.reports())  # data-session days; CDR periods for co-location

    def link(self, params: LinkParams, msisdns: list[str] | None = None) -> LinkResult:
        """Score pairs in pandas over the loaded sessions."""
        from cdrnet.analysis.cousage import LINK_CATEGORICAL, LINK_COLUMNS, link

        # Only the columns the engine reads, the repeating texts as categoricals: every column
        # as text was ~1.6 GB of frame on a 3M-session case, of which the engine reads half.
        frame = self._sessions(params.since, params.until, msisdns, columns=LINK_COLUMNS,
                               categorical=LINK_CATEGORICAL)
        if frame.empty:
            raise WorkspaceError("no sessions match the selection", "check --since/--until/--subscribers")
        # The subscribers' voice/SMS CDRs place them at cells too (co-location; docs/calls-and-towers.md).
        calls = self.calls(params.since, params.until) if params.colocation else None
        return link(frame, params, coverage=self.coverage(), calls=calls)

    @property
    def link_run_dir(self) -> Path:
        """Where the latest link run is kept (machine files: UTC times), apart from the edges.csv handed over."""
        return self.root / "link-run"

    def write_links(self, result: LinkResult) -> str | None:
        """Keep the run's every scored pair and its parameters as the case's current network.

        edges.csv may be written elsewhere (``--out``) or pseudonymised; this copy is the
        case's own, so ``map``, ``summary``, ``report`` and ``evidence`` draw what ``link`` found.
        """
        import io

        try:
            self.link_run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.link_run_dir) from exc
        buf = io.BytesIO()
        pq.write_table(edges_table(result.edges), buf, compression="snappy")
        atomic_write_bytes(self.link_run_dir / "edges.parquet", buf.getvalue())
        meta = {"params": result.params.to_dict(), "at": pd.Timestamp.now(tz="UTC").isoformat(),
                "subscribers": result.subscribers, "sessions": result.sessions}
        atomic_write_bytes(self.link_run_dir / "run.json", json.dumps(meta, indent=2).encode())
        return None

    def last_link_run(self) -> StoredLinkRun | None:
        """The latest ``link`` run kept by :meth:`write_links`, or None before any."""
        meta_path, edges_path = self.link_run_dir / "run.json", self.link_run_dir / "edges.parquet"
        if not (meta_path.exists() and edges_path.exists()):
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        edges = pd.read_parquet(edges_path)
        return StoredLinkRun(edges, meta["params"], pd.Timestamp(meta["at"]), all_pairs=True)

    def write_places(self, _placed: pd.DataFrame) -> str | None:
        """Nothing to write: the workspace places cells from the imported lists whenever asked."""
        return None

    def query(self, name: str, _params: dict) -> list[dict]:
        """Analyst queries are Cypher: the workspace explains where to run them."""
        raise UsageError(f"the analyst query {name.rsplit('/', 1)[-1]} runs on Neo4j",
                         "pass --neo4j URI (or set NEO4J_URI)")

    def close(self) -> None:
        """Nothing to release (files are opened per call)."""

    def rebuild_rejects(self) -> None:
        """Concatenate per-dump reject files into rejects.csv (atomically)."""
        self.rejects.rebuild([r.sha256 for r in self.reports()])
