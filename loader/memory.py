"""Parse dump files straight into a DataFrame, without a workspace (``pair FILE FILE``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.loader.dedupe import DuplicateFilter
from cdrnet.loader.layouts import Layout
from cdrnet.loader.normalize import Options
from cdrnet.loader.parse import DumpParser, Rejected
from cdrnet.loader.sources import DumpSource, iter_sources
from cdrnet.model import SESSION_COLUMNS


def parse_files(paths: list[str], layouts: list[Layout], opts: Options) -> pd.DataFrame:
    """All sessions of the given files, with a ``source_file`` column naming the path given."""
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

            DumpParser(layouts, opts, on_sessions, on_rejects).parse(src, src.sha256())
            if kept:
                frames.append(pd.concat(kept, ignore_index=True).assign(source_file=path))
    if not frames:
        return pd.DataFrame(columns=[*SESSION_COLUMNS, "source_file"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("session_key").reset_index(drop=True)
