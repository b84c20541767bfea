"""Parse dump files straight into a DataFrame, without a workspace (``pair FILE FILE``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.errors import UsageError
from cdrnet.loader.dedupe import DuplicateFilter
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import Options
from cdrnet.loader.parse import DumpParser, Rejected
from cdrnet.loader.sources import DumpSource, iter_sources
from cdrnet.model import SESSION_COLUMNS


def parse_files(paths: list[str], layouts: list[Layout], opts: Options) -> pd.DataFrame:
    """All sessions of the given files, with a ``source_file`` column naming the path given.

    A file of call records (a voice/SMS CDR or a tower dump) is refused by name: its rows are
    calls, not data sessions, and read as sessions they would make a pair report of whoever
    the file names first.
    """
    frames = []
    for path in paths:
        for src in iter_sources([path]):
            if not isinstance(src, DumpSource):
                continue
            kept: list[pd.DataFrame] = []
            dup = DuplicateFilter()

            def on_sessions(s: pd.DataFrame, h: np.ndarray, kept=kept, dup=dup) -> tuple[pd.DataFrame, np.ndarray]:
                s, dropped = dup(s, h)
                kept.append(s)
                return s, dropped

            def on_rejects(_: Rejected, __: str) -> None:
                return None

            def on_calls(_s: pd.DataFrame, _h: np.ndarray, name: str = src.name) -> tuple[pd.DataFrame, np.ndarray]:
                raise UsageError(f"{name}: voice/SMS call records (a CDR or a tower dump), not an IPDR dump",
                                 "pair compares data sessions: give two IPDR dumps, or ingest call records "
                                 "and use 'cdrnet contacts', 'common', 'chain' or 'towers'")

            DumpParser(layouts, opts, on_sessions, on_rejects, on_calls=on_calls).parse(src, src.sha256())
            if kept:
                frames.append(pd.concat(kept, ignore_index=True).assign(source_file=path))
    if not frames:
        return pd.DataFrame(columns=[*SESSION_COLUMNS, "source_file"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("session_key").reset_index(drop=True)
