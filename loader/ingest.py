"""Ingest orchestration: sources -> parser -> a store, one dump at a time.

A store is anything with ``has_dump``, ``begin_dump`` (returning a writer with
``write_sessions``, ``write_calls``, ``write_rejects``, ``commit`` and ``abort``) and
``session_key_hashes``; the workspace and the Neo4j store both qualify.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from cdrnet.errors import CdrnetError, CorruptInputError, StorageError, UnknownLayoutError
from cdrnet.files import storage_error
from cdrnet.loader import textblocks
from cdrnet.loader.cellsites import CellListReport, parse_cell_list, sniff_cell_list
from cdrnet.loader.collector import collect_dump_garbage, fewer_collections
from cdrnet.loader.dedupe import DuplicateFilter
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import Options
from cdrnet.loader.parse import DumpParser, Rejected
from cdrnet.loader.quality import DumpReport
from cdrnet.loader.smallbatch import BATCH_BYTES, LookAhead, batchable, look_ahead
from cdrnet.loader.sources import (
    NOT_A_DUMP,
    DumpSource,
    Refused,
    check_readable,
    iter_sources,
    not_a_dump_reason,
    read_errors,
)
from cdrnet.loader.workers import AUTO_WORKERS, auto_workers

if TYPE_CHECKING:  # the protocol both stores implement (cdrnet/store.py imports the loader)
    from cdrnet.store import DumpWriter, SessionStore, StagingStore
    from cdrnet.workspace import StagedDump


@dataclass
class IngestResult:
    """What happened to every input the user named."""

    loaded: list[DumpReport] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # (name, sha)
    #: Already loaded, but with other reading options: (name, sha, what differs). Nothing changed;
    #: ``replace=True`` (``ingest --replace``) re-reads them.
    differing: list[tuple[str, str, list[str]]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # sha256 of dumps read again with --replace
    refused: list[Refused] = field(default_factory=list)
    failed: list[tuple[str, CdrnetError]] = field(default_factory=list)
    #: Parsing workers used: processes for whole dumps, or threads for one dump's blocks (1: none).
    workers: int = 1
    #: Cell-site lists (CGI charts, OpenCelliD exports) found among the inputs and imported.
    cell_lists: list[CellListReport] = field(default_factory=list)

    @property
    def nothing_loaded(self) -> list[DumpReport]:
        """Dumps read whose every row was rejected: recorded, but the run failed for them."""
        return [r for r in self.loaded if r.all_rejected]


def _chosen_workers(workers: int, dumps: list[DumpSource], store: SessionStore, replace: bool) -> int:
    """``workers`` as given, or chosen from the run's dumps when it is ``AUTO_WORKERS``."""
    if workers != AUTO_WORKERS:
        return workers
    from cdrnet.store import StagingStore

    return auto_workers(len(dumps), sum(s.size or 0 for s in dumps), not replace and isinstance(store, StagingStore))


@contextmanager
def parse_pool(workers: int, total_bytes: int) -> Iterator[Executor | None]:
    """Threads that normalise a big dump's blocks beside this one: several workers and at least
    two blocks of input, else None (the blocks are normalised in this thread).

    Why threads, not processes (what ran before): a block's normalised sessions are ~600 bytes a
    row, so a worker process pickled ~57 MB a 16 MB block and this process unpickled it and read
    it off a pipe, then still checked duplicates, summed the quality counts and wrote Parquet for
    every block: it was the bottleneck, and a 1M-row dump took 1.7-2x longer on two processes than
    on one (every full run of ``python -m bench`` since 2026-11-30). A block's normalisation
    spends much of its time in Arrow, numpy and the C kernel with the GIL released: on two cores,
    two threads normalise blocks 1.3-1.8x as fast as one, and nothing is copied between them
    (docs/benchmarks.md, "One big dump on threads"). Whole dumps still go to worker processes
    (:mod:`cdrnet.loader.batch`): what they send back is a file name.
    """
    if workers <= 1 or total_bytes < 2 * textblocks.BLOCK_SIZE:
        yield None
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cdrnet-block") as pool:
        yield pool


def read_options_record(opts: Options, signatures_name: str) -> dict[str, str]:
    """The options that change how a dump's rows read, as recorded on its report."""
    return {"tz": opts.tz, "country_code": opts.country_code, "date_order": opts.date_order,
            "signatures": signatures_name}


def option_differences(old: DumpReport, opts: Options, signatures_name: str) -> list[str]:
    """What a new ingest of an already-loaded dump would read differently ("--tz UTC -> Europe/London").

    ``--date-order auto`` matches whatever order the dump was read in; an explicit order differs
    only from another decided order. Dumps loaded before options were recorded compare on
    what their report holds (zone and signatures).
    """
    was = dict(old.read_options) or {"signatures": old.signatures}
    now = read_options_record(opts, signatures_name)
    out = [f"--{k.replace('_', '-')} {was[k]} -> {now[k]}" for k in ("tz", "country_code", "signatures")
           if k in was and was[k] != now[k]]
    if opts.date_order != "auto" and old.date_order and old.date_order != opts.date_order:
        out.append(f"--date-order {old.date_order} ({old.date_order_source or 'recorded'}) -> {opts.date_order}")
    return out


def _parse_into(writer: DumpWriter, source: DumpSource, sha: str, layouts: list[Layout], opts: Options,
                signatures_name: str, progress: Callable[[int], None] | None = None, pool: Executor | None = None,
                workers: int = 1, ahead: LookAhead | None = None) -> tuple[DumpReport, np.ndarray]:
    """Parse one dump into ``writer``; return its report and its sessions' key hashes (sorted).

    The overlap with other dumps is left to :func:`finish_report`: it depends on the dumps
    committed before this one, which only the process committing in input order knows.
    """
    dup = DuplicateFilter()

    def on_sessions(sessions: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        sessions, dropped = dup(sessions, key_hash)
        writer.write_sessions(sessions)
        return sessions, dropped

    def on_calls(events: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        events, dropped = dup(events, key_hash)
        writer.write_calls(events)
        return events, dropped

    def on_rejects(rej: Rejected, part: str) -> None:
        writer.write_rejects(rej.lines.tolist(), rej.reasons, rej.texts, part)

    parser = DumpParser(layouts, opts, on_sessions, on_rejects, pool, workers, on_calls)
    if ahead is not None:
        ahead.lend(parser)
    report = parser.parse(source, sha, progress)
    report.signatures = signatures_name
    report.read_options = read_options_record(opts, signatures_name)
    return report, dup.seen


def finish_report(report: DumpReport, seen: np.ndarray, store: SessionStore) -> None:
    """What only the committing process knows: when, and how many sessions other dumps already hold.

    A dump read again keeps when it was first ingested (``SessionStore.first_ingested``: its place
    in the ingest order). Microseconds, so dumps committed within one second keep their commit
    order (the order Neo4j's writer created their sessions in).
    """
    report.ingested_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    report.first_ingested_at = store.first_ingested(report.sha256) or report.ingested_at
    if report.loaded and report.kind == "sessions":
        # The duplicate filter already holds this dump's key hashes (8 bytes a session);
        # keeping the 32-character keys instead cost 1.3 GB at 10 million rows.
        # Only dumps before it in the ingest order: a dump read again keeps its place, and its
        # copies stay the kept ones (the later re-sends count the overlap, as before).
        others = store.session_key_hashes(exclude=report.sha256, msisdns=report.msisdns, before=report)
        report.duplicates_of_other_dumps = count_known(seen, others)


def count_known(seen: np.ndarray, others: np.ndarray) -> int:
    """How many of ``seen`` (sorted, distinct: the duplicate filter's) occur in ``others`` (any order,
    repeats allowed): ``np.isin(seen, others).sum()`` without sorting ``others`` with them."""
    if not len(seen) or not len(others):
        return 0
    pos = np.searchsorted(seen, others)
    found = seen[np.minimum(pos, len(seen) - 1)] == others
    hit = np.zeros(len(seen), dtype=bool)
    hit[pos[found]] = True
    return int(hit.sum())


def ingest_source(source: DumpSource, store: SessionStore, layouts: list[Layout], opts: Options, signatures_name: str,
                  progress: Callable[[int], None] | None = None, pool: Executor | None = None,
                  workers: int = 1, replace: bool = False, ahead: LookAhead | None = None) -> DumpReport | None:
    """Parse one dump into the store; None when the store already holds it (unless ``replace``:
    then its rows are read again and replace the stored ones, with a new report)."""
    sha = source.sha256()
    reread = store.has_dump(sha)
    if reread:
        if not replace and not nothing_loaded(store, sha):
            return None
        store.forget_dump(sha)
    writer = store.begin_dump(sha, source.name)
    try:
        report, seen = _parse_into(writer, source, sha, layouts, opts, signatures_name, progress, pool, workers,
                                   ahead)
        finish_report(report, seen, store)
        writer.commit(report, seen)
        if reread:
            store.recount_after_reread(report)
        collect_dump_garbage()
        return report
    except OSError as exc:
        writer.abort()
        raise storage_error(exc) from exc
    except BaseException:
        writer.abort()
        raise


def nothing_loaded(store: SessionStore, sha: str) -> bool:
    """Whether a stored dump had every row rejected: ingesting it again (after fixing the
    options, a layout file or the signatures) reads it again and replaces its record."""
    old = store.report(sha)
    return old is not None and old.all_rejected


def stage_dump(source: DumpSource, stager: StagingStore, layouts: list[Layout], opts: Options,
               signatures_name: str, ahead: LookAhead | None = None) -> tuple[DumpReport, StagedDump, np.ndarray]:
    """Parse one whole dump to temporary files, in a worker process (see :mod:`cdrnet.loader.batch`).

    The sessions never travel between processes: the worker writes them itself, and only the
    report, the temporary file names and the key hashes (8 bytes a session) come back.
    """
    sha = source.sha256()
    writer = stager.begin_dump(sha, source.name)
    try:
        report, seen = _parse_into(writer, source, sha, layouts, opts, signatures_name, ahead=ahead)
        staged = writer.stage()
        # As a one-process run does once a dump is committed: without it a worker's frames waited
        # for the collector's full passes (peak ~700 MB, and page faults for fresh memory each time).
        collect_dump_garbage()
        return report, staged, seen
    except OSError as exc:  # a full disk or read-only folder: the parent stops the run with one line
        writer.abort()
        raise storage_error(exc) from exc
    except BaseException:
        writer.abort()
        raise


def stage_run(sources: list[DumpSource], stager: StagingStore, layouts: list[Layout], opts: Options,
              signatures_name: str) -> list[tuple[tuple[DumpReport, StagedDump, np.ndarray] | None, Exception | None]]:
    """Stage several small dumps in one worker, their first blocks normalised together (loader/smallbatch.py).

    Each dump's outcome is its own: what :func:`stage_dump` returns, or what it raised (the parent
    raises it at that dump's turn, so one bad file fails alone, as in a one-process run).
    """
    ahead = look_ahead(sources, layouts, opts)
    out: list[tuple[tuple[DumpReport, StagedDump, np.ndarray] | None, Exception | None]] = []
    for src in sources:
        try:
            out.append((stage_dump(src, stager, layouts, opts, signatures_name, ahead), None))
        except Exception as exc:  # noqa: BLE001 - handed to the parent, which files or re-raises it
            out.append((None, exc if _picklable(exc) else CdrnetError(f"{src.name}: {type(exc).__name__}: {exc}")))
    return out


def _picklable(exc: Exception) -> bool:
    """Whether an error travels back from a worker (one that cannot must not fail its run's other dumps)."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to round-trip means "no"
        return False
    return True


def ingest_paths(paths: list[str], store: SessionStore, layouts: list[Layout], opts: Options, signatures_name: str,
                 show_progress: bool = True, on_report: Callable[[DumpReport], None] | None = None,
                 on_unchanged: Callable[[str, str], None] | None = None, workers: int = 1,
                 replace: bool = False) -> IngestResult:
    """Ingest every dump under ``paths``; one failing file does not stop the others.

    The store is held for writing throughout (a second ingest on the same workspace is told
    it is busy); a store that cannot be written (read-only, disk full) stops the run.
    ``replace``: dumps already loaded are read again and replace their stored rows.

    ``workers`` > 1 parses with workers (``cdrnet ingest --workers``); ``AUTO_WORKERS`` chooses
    from the input (:func:`auto_workers`). Whole dumps each, in worker processes, when there are
    several and the store can stage them (:mod:`cdrnet.loader.batch`); a script calling this must
    then guard its top level with ``if __name__ == "__main__":`` as the workers' fork server
    imports it. Otherwise the blocks of each dump, on threads (:func:`parse_pool`). Either way the
    store ends up holding what a one-process run leaves.
    """
    with store.writing("ingest"), fewer_collections():
        return _ingest_all(paths, store, layouts, opts, signatures_name, show_progress, on_report, on_unchanged,
                           workers, replace)


def _refusal(src: DumpSource, exc: UnknownLayoutError | CorruptInputError) -> Refused:
    """A file refused by name while the batch goes on: no layout fits (or a voice CDR no call
    layout fits), or a damaged workbook or member. A file found beside the dumps and clearly no
    dump (truth.csv, notes) is listed as skipped, not refused."""
    if isinstance(exc, CorruptInputError):
        return Refused(src.name, str(exc).removeprefix(f"{src.name}: "), "corrupt", exc.hint)
    other = None if src.named else not_a_dump_reason(src)
    if other is not None:
        return Refused(src.name, other, NOT_A_DUMP)
    return Refused(src.name, str(exc).removeprefix(f"{src.name}: "), "unknown layout", exc.hint)


def _take_cell_list(src: DumpSource | Refused, store: SessionStore, result: IngestResult,
                    on_unchanged: Callable[[str, str], None] | None, update: Callable[[int], object]) -> bool:
    """Import an operator's CGI chart (or OpenCelliD list) delivered with the dumps: positions,
    not sessions. False when ``src`` is no cell-site list (or cannot be read: the dump path says why)."""
    if not isinstance(src, DumpSource):
        return False
    try:
        if not sniff_cell_list(src):
            return False
    except read_errors():
        return False
    if check_readable(src) is not None:
        return False
    if store.has_cell_list(src.sha256()):
        result.unchanged.append((src.name, src.sha256()))
        if on_unchanged:
            on_unchanged(src.name, src.sha256())
    else:
        cell_list = parse_cell_list(src)
        store.import_cell_list(cell_list)
        result.cell_lists.append(cell_list.report)
    update(src.size or 0)
    return True


def _ingest_all(paths: list[str], store: SessionStore, layouts: list[Layout], opts: Options, signatures_name: str,
                show_progress: bool, on_report: Callable[[DumpReport], None] | None,
                on_unchanged: Callable[[str, str], None] | None, workers: int, replace: bool) -> IngestResult:
    from cdrnet.store import StagingStore

    result = IngestResult()
    sources = list(iter_sources(paths))
    dumps = [s for s in sources if isinstance(s, DumpSource)]
    total = sum(s.size or 0 for s in dumps)

    def record(src: DumpSource, attempt: Callable[[], DumpReport | None]) -> None:
        """File one source's outcome: loaded (or replaced), unchanged (or read with other options),
        refused (no layout fits) or failed."""
        sha = src.sha256()
        loaded_before = store.has_dump(sha)
        try:
            report = attempt()
        except StorageError:
            raise  # a full disk or read-only folder fails every file alike: stop with one line
        except (UnknownLayoutError, CorruptInputError) as exc:
            result.refused.append(_refusal(src, exc))
            return
        except CdrnetError as exc:
            result.failed.append((src.name, exc))
            return
        if report is None:
            old = store.report(sha)
            differs = option_differences(old, opts, signatures_name) if old is not None else []
            if differs:
                result.differing.append((src.name, sha, differs))
            else:
                result.unchanged.append((src.name, sha))
                if on_unchanged:
                    on_unchanged(src.name, sha)
        else:
            if loaded_before:
                result.replaced.append(sha)
            result.loaded.append(report)
            if on_report:
                on_report(report)

    with (tqdm(total=total, unit="B", unit_scale=True, disable=not show_progress, desc="ingest", leave=False) as bar,
          store.ingest_batch()):
        sources = [src for src in sources if not _take_cell_list(src, store, result, on_unchanged, bar.update)]
        dumps = [s for s in sources if isinstance(s, DumpSource)]
        workers = _chosen_workers(workers, dumps, store, replace)
        if workers > 1 and len(dumps) > 1 and not replace and isinstance(store, StagingStore):
            from cdrnet.loader.batch import ingest_many

            result.workers = workers
            ingest_many(sources, store, layouts, opts, signatures_name, workers, result.refused.append, record,
                        lambda src: ingest_source(src, store, layouts, opts, signatures_name, bar.update),
                        bar.update)
            return result
        with parse_pool(workers, total) as pool:
            result.workers = workers if pool is not None else 1
            ahead, ahead_until = None, -1
            for i, src in enumerate(sources):
                if isinstance(src, Refused):
                    result.refused.append(src)
                    continue
                if i > ahead_until and batchable(src):
                    # The next small dumps' first blocks, normalised together (loader/smallbatch.py).
                    run, ahead_until = _small_run(sources, i, store, replace)
                    ahead = look_ahead(run, layouts, opts) if len(run) > 1 else None
                bar.set_postfix_str(src.name[-40:], refresh=False)
                bad = check_readable(src)
                if bad is not None:
                    result.refused.append(bad)
                    continue
                record(src, lambda src=src, ahead=ahead: ingest_source(src, store, layouts, opts, signatures_name,
                                                                       bar.update, pool, workers, replace, ahead))
    return result


def _small_run(sources: list[DumpSource | Refused], start: int, store: SessionStore,
               replace: bool) -> tuple[list[DumpSource], int]:
    """The small dumps from ``start`` on to read ahead together (at most BATCH_BYTES of them), and
    the index of the last source looked at. Dumps already loaded are passed over (unchanged)."""
    run: list[DumpSource] = []
    total, last = 0, start
    for j in range(start, len(sources)):
        src = sources[j]
        if not isinstance(src, DumpSource) or not batchable(src):
            continue
        size = src.size or 0
        if run and total + size > BATCH_BYTES:
            break
        last = j
        if check_readable(src) is None and (replace or not store.has_dump(src.sha256())):
            run.append(src)
            total += size
    return run, last
