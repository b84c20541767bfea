"""Many dumps at once: whole dumps parsed in worker processes, committed in input order.

Real cases are hundreds of small per-subscriber dumps (Jio sends a subscriber's week in
several part files), so what a dump costs besides its rows (starting a parser, detecting
the layout, opening a Parquet file, the overlap check, the report) weighs as much as the
rows. Parallel *blocks* of one dump do not help there (most dumps are one block), and
shipping each normalised block back to the parent costs what the second core saves.
So each worker parses a whole dump and writes its Parquet and reject files itself
(:func:`~cdrnet.loader.ingest.stage_dump`); only the report, the temporary file names and
the sessions' key hashes (8 bytes a session) come back.

The parent keeps everything that depends on order, exactly as a serial run would: it
hashes each file, skips dumps already loaded, checks each staged dump's sessions against
the dumps committed before it (``duplicates_of_other_dumps``), stamps ``ingested_at`` and
publishes the dumps one by one in input order. So the workspace a parallel run leaves
is the serial run's (``tests/test_ingest_parallel.py`` compares them). Memory is bounded:
at most ``2 × workers`` dumps are in flight, each worker holds one block at a time, and
the parent holds only their key hashes.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cdrnet.errors import IngestWorkerError
from cdrnet.loader.collector import collect_dump_garbage
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import Options
from cdrnet.loader.quality import DumpReport
from cdrnet.loader.smallbatch import BATCH_BYTES, batchable
from cdrnet.loader.sources import DumpSource, Refused, check_readable
from cdrnet.loader.workers import worker_pool

if TYPE_CHECKING:
    from cdrnet.store import StagingStore

#: Does the ingest of one source; raises what a serial ingest raises (recorded by the caller).
Attempt = Callable[[], DumpReport | None]


@dataclass
class _Entry:
    """One input in order: refused already, parsed here at its turn, or parsed by a worker."""

    source: DumpSource | Refused
    future: Future | None = None
    here: bool = False  # parse in this process at its turn (an archive member, a repeated file)
    #: Its place in the worker's answer when several small dumps went to one worker together.
    index: int | None = None


def _picklable(source: DumpSource) -> bool:
    """A plain file on disk travels to a worker; an archive member's opener is a closure: it stays."""
    try:
        pickle.dumps(source)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


class _Batch:
    """The dumps of one run in input order, whole dumps parsed by a process pool.

    Small dumps (``smallbatch.batchable``) are sent to a worker together, up to ``BATCH_BYTES``
    of them, and the worker normalises their first blocks as one (:func:`stage_run`), as a
    one-process run's look-ahead does: on the many-dump shape a per-dump task paid the
    normaliser's fixed cost once per dump in every worker.
    """

    def __init__(self, store: StagingStore, workers: int, submit: Callable[[DumpSource], Future],
                 on_refused: Callable[[Refused], None], record: Callable[[DumpSource, Attempt], None],
                 serial: Callable[[DumpSource], DumpReport | None], progress: Callable[[int], None],
                 submit_run: Callable[[list[DumpSource]], Future] | None = None) -> None:
        self.store, self.submit, self.submit_run = store, submit, submit_run
        self.on_refused, self.record, self.serial, self.progress = on_refused, record, serial, progress
        self.pending: deque[_Entry] = deque()
        self.claimed: set[str] = set()  # SHA-256 of dumps handed to a worker in this run
        self.limit = 2 * workers  # tasks in flight: bounds memory (each holds a block or a small run)
        self.run: list[_Entry] = []  # small dumps waiting to go to a worker together
        self.run_bytes = 0

    def add(self, src: DumpSource | Refused) -> None:
        entry = _Entry(src)
        if isinstance(src, DumpSource):
            bad = check_readable(src)  # hashes the file here: the next dumps' SHA-256 while workers parse
            if bad is not None:
                entry = _Entry(bad)
            elif src.sha256() in self.claimed or self.store.has_dump(src.sha256()) or not _picklable(src):
                entry.here = True  # a repeat is "unchanged" at its turn, as in a serial run
            elif self.submit_run is not None and batchable(src):
                self.claimed.add(src.sha256())
                if self.run and self.run_bytes + (src.size or 0) > BATCH_BYTES:
                    self.flush()
                self.run.append(entry)
                self.run_bytes += src.size or 0
                return
            else:
                self.claimed.add(src.sha256())
                entry.future = self.submit(src)
        self.flush()
        self._append(entry)

    def flush(self) -> None:
        """Send the waiting small dumps to a worker (one task; one dump alone goes as any other)."""
        run, self.run, self.run_bytes = self.run, [], 0
        if len(run) == 1:
            run[0].future = self.submit(run[0].source)  # type: ignore[arg-type]
        elif run:
            assert self.submit_run is not None
            future = self.submit_run([e.source for e in run])  # type: ignore[misc]
            for k, e in enumerate(run):
                e.future, e.index = future, k
        for e in run:
            self._append(e)

    def _append(self, entry: _Entry) -> None:
        self.pending.append(entry)
        # In input order: the oldest is finished when it needs no worker, or when enough wait.
        while self.pending and (self.pending[0].future is None or self._in_flight() > self.limit):
            self.finish_oldest()

    def _in_flight(self) -> int:
        return len({id(e.future) for e in self.pending if e.future is not None})

    def _publish(self, entry: _Entry) -> DumpReport | None:
        from cdrnet.loader.ingest import finish_report

        assert entry.future is not None
        try:
            outcome = entry.future.result()
        except BrokenProcessPool as exc:
            raise IngestWorkerError(f"{entry.source.name}: a worker process died while parsing "
                                    f"(out of memory?): {exc}") from exc
        if entry.index is not None:  # one dump of a small run: its own outcome, or what it raised
            outcome, error = outcome[entry.index]
            if error is not None:
                raise error
        report, staged, seen = outcome
        try:
            finish_report(report, seen, self.store)
            self.store.publish(staged, report, seen)
            collect_dump_garbage()
        except BaseException:
            self.store.discard(staged)
            raise
        return report

    def finish_oldest(self) -> None:
        entry = self.pending.popleft()
        src = entry.source
        if isinstance(src, Refused):
            self.on_refused(src)
        elif entry.here:
            self.record(src, lambda: self.serial(src))
        else:
            self.record(src, lambda: self._publish(entry))
            self.progress(src.size or 0)

    def abandon(self) -> None:
        """Interrupted: nothing a worker staged may stay behind."""
        self.pending.extend(self.run)
        self.run = []
        for entry in self.pending:
            if entry.future is not None and not entry.future.cancel():
                try:
                    outcome = entry.future.result()
                    if entry.index is not None:
                        outcome = outcome[entry.index][0]
                    if outcome is not None:
                        self.store.discard(outcome[1])
                except BaseException:  # noqa: BLE001 - its worker already removed what it wrote
                    pass
        self.pending.clear()


def ingest_many(sources: Iterable[DumpSource | Refused], store: StagingStore, layouts: list[Layout], opts: Options,
                signatures_name: str, workers: int, on_refused: Callable[[Refused], None],
                record: Callable[[DumpSource, Attempt], None], serial: Callable[[DumpSource], DumpReport | None],
                progress: Callable[[int], None]) -> None:
    """Ingest ``sources`` with ``workers`` processes each parsing whole dumps.

    ``record(source, attempt)`` runs ``attempt`` and files its outcome (loaded, unchanged,
    refused or failed) as the serial loop does; ``serial(source)`` ingests one source in this
    process (archive members, whose openers cannot travel, and a file seen twice in one run).
    """
    from cdrnet.loader.ingest import stage_dump, stage_run

    stager = store.stager()
    with worker_pool(workers) as pool:
        batch = _Batch(store, workers, lambda src: pool.submit(stage_dump, src, stager, layouts, opts, signatures_name),
                       on_refused, record, serial, progress,
                       lambda run: pool.submit(stage_run, run, stager, layouts, opts, signatures_name))
        try:
            for src in sources:
                batch.add(src)
            batch.flush()
            while batch.pending:
                batch.finish_oldest()
        finally:
            batch.abandon()
