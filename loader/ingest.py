"""Ingest orchestration: sources -> parser -> a store, one dump at a time.

A store is anything with ``has_dump``, ``begin_dump`` (returning a writer with
``write_sessions``, ``write_rejects``, ``commit`` and ``abort``) and
``session_key_hashes``; the workspace and the Neo4j store both qualify.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from cdrnet.errors import CdrnetError, UnknownLayoutError
from cdrnet.loader import textblocks
from cdrnet.loader.dedupe import DuplicateFilter
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import Options
from cdrnet.loader.parse import DumpParser, Rejected
from cdrnet.loader.quality import DumpReport
from cdrnet.loader.sources import NOT_A_DUMP, DumpSource, Refused, check_readable, iter_sources, not_a_dump_reason

if TYPE_CHECKING:  # the protocol both stores implement (cdrnet/store.py imports the loader)
    from cdrnet.store import SessionStore


@dataclass
class IngestResult:
    """What happened to every input the user named."""

    loaded: list[DumpReport] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # (name, sha)
    refused: list[Refused] = field(default_factory=list)
    failed: list[tuple[str, CdrnetError]] = field(default_factory=list)
    workers: int = 1  # parsing processes used (1: this process alone)


def default_workers() -> int:
    """Parsing processes when the user names none: CDRNET_WORKERS, else 1 (this process).

    A worker ships each normalised block back to this process, and on a 2-core
    machine that transfer costs about what the parallel parsing saves (see
    docs/benchmarks.md), so parallel parsing is opt-in (``--workers``).
    """
    env = os.environ.get("CDRNET_WORKERS", "")
    return int(env) if env.isdigit() and int(env) >= 1 else 1


@contextmanager
def parse_pool(workers: int, total_bytes: int) -> Iterator[Executor | None]:
    """A process pool when it pays: several workers and at least two blocks of input.

    Workers are spawned, not forked: forking a process that already runs Arrow's
    thread pools can deadlock the child.
    """
    if workers <= 1 or total_bytes < 2 * textblocks.BLOCK_SIZE:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ingest_source(source: DumpSource, store: SessionStore, layouts: list[Layout], opts: Options, signatures_name: str,
                  progress: Callable[[int], None] | None = None, pool: Executor | None = None,
                  workers: int = 1) -> DumpReport | None:
    """Parse one dump into the store; None when the store already holds it."""
    sha = source.sha256()
    if store.has_dump(sha):
        return None
    writer = store.begin_dump(sha, source.name)
    dup = DuplicateFilter()

    def on_sessions(sessions: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        sessions, dropped = dup(sessions, key_hash)
        writer.write_sessions(sessions)
        return sessions, dropped

    def on_rejects(rej: Rejected, part: str) -> None:
        writer.write_rejects(rej.lines.tolist(), rej.reasons, rej.texts, part)

    try:
        report = DumpParser(layouts, opts, on_sessions, on_rejects, pool, workers).parse(source, sha, progress)
        report.ingested_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        report.signatures = signatures_name
        if report.loaded:
            # The duplicate filter already holds this dump's key hashes (8 bytes a session);
            # keeping the 32-character keys instead cost 1.3 GB at 10 million rows.
            others = store.session_key_hashes(exclude=sha, msisdns=report.msisdns)
            report.duplicates_of_other_dumps = int(np.isin(dup.seen, others).sum()) if len(others) else 0
        writer.commit(report)
        return report
    except BaseException:
        writer.abort()
        raise


def ingest_paths(paths: list[str], store: SessionStore, layouts: list[Layout], opts: Options, signatures_name: str,
                 show_progress: bool = True, on_report: Callable[[DumpReport], None] | None = None,
                 on_unchanged: Callable[[str, str], None] | None = None, workers: int = 1) -> IngestResult:
    """Ingest every dump under ``paths``; one failing file does not stop the others.

    ``workers`` > 1 normalises blocks in spawned processes (``cdrnet ingest --workers``);
    a script calling this must then guard its top level with
    ``if __name__ == "__main__":`` as spawned workers import it.
    """
    result = IngestResult()
    sources = list(iter_sources(paths))
    total = sum(s.size or 0 for s in sources if isinstance(s, DumpSource))
    with (tqdm(total=total, unit="B", unit_scale=True, disable=not show_progress, desc="ingest", leave=False) as bar,
          parse_pool(workers, total) as pool):
        result.workers = workers if pool is not None else 1
        for src in sources:
            if isinstance(src, Refused):
                result.refused.append(src)
                continue
            bar.set_postfix_str(src.name[-40:], refresh=False)
            bad = check_readable(src)
            if bad is not None:
                result.refused.append(bad)
                continue
            try:
                report = ingest_source(src, store, layouts, opts, signatures_name, bar.update, pool, workers)
            except UnknownLayoutError as exc:
                # Not a failure while reading a known layout: no layout fits (or a voice CDR).
                # Found beside the dumps and clearly no dump (truth.csv, notes): skipped, not refused.
                other = None if src.named else not_a_dump_reason(src)
                if other is not None:
                    result.refused.append(Refused(src.name, other, NOT_A_DUMP))
                    continue
                reason = str(exc)
                reason = reason[len(src.name) + 2:] if reason.startswith(f"{src.name}: ") else reason
                result.refused.append(Refused(src.name, reason, "unknown layout", exc.hint))
                continue
            except CdrnetError as exc:
                result.failed.append((src.name, exc))
                continue
            if report is None:
                result.unchanged.append((src.name, src.sha256()))
                if on_unchanged:
                    on_unchanged(src.name, src.sha256())
            else:
                result.loaded.append(report)
                if on_report:
                    on_report(report)
    return result
