"""Ingest orchestration: sources -> parser -> a store, one dump at a time.

A store is anything with ``has_dump``, ``begin_dump`` (returning a writer with
``write_sessions``, ``write_rejects``, ``commit`` and ``abort``) and
``session_keys``; the workspace and the Neo4j store both qualify.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from cdrnet.loader.dedupe import DuplicateFilter
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import Options
from cdrnet.loader.parse import DumpParser, Rejected
from cdrnet.loader.quality import DumpReport
from cdrnet.loader.sources import DumpSource, Refused, iter_sources
from tqdm import tqdm

from cdrnet.errors import CdrnetError


@dataclass
class IngestResult:
    """What happened to every input the user named."""

    loaded: list[DumpReport] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # (name, sha)
    refused: list[Refused] = field(default_factory=list)
    failed: list[tuple[str, CdrnetError]] = field(default_factory=list)


def ingest_source(source: DumpSource, store: Any, layouts: list[Layout], opts: Options, signatures_name: str,
                  progress: Callable[[int], None] | None = None) -> DumpReport | None:
    """Parse one dump into the store; None when the store already holds it."""
    sha = source.sha256()
    if store.has_dump(sha):
        return None
    writer = store.begin_dump(sha, source.name)
    dup = DuplicateFilter()
    kept: list[pd.Series] = []

    def on_sessions(sessions: pd.DataFrame, key_hash: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        sessions, dropped = dup(sessions, key_hash)
        writer.write_sessions(sessions)
        kept.append(sessions["session_key"])
        return sessions, dropped

    def on_rejects(rej: Rejected, part: str) -> None:
        writer.write_rejects(rej.lines.tolist(), rej.reasons, rej.texts, part)

    try:
        report = DumpParser(layouts, opts, on_sessions, on_rejects).parse(source, sha, progress)
        report.ingested_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        report.signatures = signatures_name
        if kept:
            mine = pd.concat(kept, ignore_index=True).to_numpy(dtype=str)
            others = store.session_keys(exclude=sha, msisdns=report.msisdns)
            report.duplicates_of_other_dumps = int(np.isin(mine, others).sum()) if len(others) else 0
        writer.commit(report)
        return report
    except BaseException:
        writer.abort()
        raise


def ingest_paths(paths: list[str], store: Any, layouts: list[Layout], opts: Options, signatures_name: str,
                 show_progress: bool = True, on_report: Callable[[DumpReport], None] | None = None,
                 on_unchanged: Callable[[str, str], None] | None = None) -> IngestResult:
    """Ingest every dump under ``paths``; one failing file does not stop the others."""
    result = IngestResult()
    sources = list(iter_sources(paths))
    total = sum(s.size or 0 for s in sources if isinstance(s, DumpSource))
    with tqdm(total=total, unit="B", unit_scale=True, disable=not show_progress, desc="ingest", leave=False) as bar:
        for src in sources:
            if isinstance(src, Refused):
                result.refused.append(src)
                continue
            bar.set_postfix_str(src.name[-40:], refresh=False)
            try:
                report = ingest_source(src, store, layouts, opts, signatures_name, bar.update)
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
