"""What the Parquet settings of dumps/<sha>.parquet cost: encoding CPU and file size, side by side.

    python -m bench.parquet_options          # one simulated 100k-row block, written 5 times per setting

Each setting writes the same canonical sessions (one normalised block of a simulated dump,
five row groups) to memory; the figure is the median CPU seconds of 5 writes and the size.
CPU seconds, not wall time: other load on the machine barely moves them. The workspace's
choice is ``cdrnet.workspace.SESSION_PARQUET_OPTIONS``; docs/benchmarks.md quotes this command.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path


def main() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.__main__ import make_dump
    from cdrnet.loader import normalize, parse
    from cdrnet.loader.detect import detect
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.loader.textblocks import iter_blocks
    from cdrnet.model import SESSION_COLUMNS, SESSION_SCHEMA
    from cdrnet.workspace import SESSION_PARQUET_OPTIONS

    with tempfile.TemporaryDirectory(prefix="cdrnet-parquet-") as tmp:
        path = Path(tmp) / "dump.csv"
        make_dump(path, 120_000)
        with open(path, "rb") as fh:
            block = next(iter_blocks(fh))
    det = detect(block.data[: 1 << 20].decode().split("\n"), builtin_layouts(), "parquet")
    body = block.data[block.data.index(b"\n") + 1 :]
    opts = normalize.Options(rules=load_signatures("modern"), date_order="dmy")
    out = parse.process_block(body, 2, det, opts, "parquet", "")
    table = pa.Table.from_pandas(out.sessions[SESSION_COLUMNS], schema=SESSION_SCHEMA, preserve_index=False)
    settings = {
        "zstd, Arrow's defaults (before)": {"compression": "zstd"},
        "zstd level 1": {"compression": "zstd", "compression_level": 1},
        "lz4": {"compression": "lz4"},
        "snappy": {"compression": "snappy"},
        "no compression": {"compression": "none"},
        "zstd, no dictionary at all": {"compression": "zstd", "use_dictionary": False},
        "zstd, dictionaries on repeating columns": {k: v for k, v in SESSION_PARQUET_OPTIONS.items()
                                                    if k not in ("write_statistics", "column_encoding")},
        "workspace without its delta encodings": {k: v for k, v in SESSION_PARQUET_OPTIONS.items()
                                                  if k != "column_encoding"},
        "lz4, workspace's dictionaries and statistics": {**SESSION_PARQUET_OPTIONS, "compression": "lz4"},
        "workspace (SESSION_PARQUET_OPTIONS)": SESSION_PARQUET_OPTIONS,
    }
    print(f"{table.num_rows} sessions x 5 row groups per file")
    for name, kw in settings.items():
        cpu = []
        for _ in range(5):
            sink = io.BytesIO()
            c0 = time.process_time()
            with pq.ParquetWriter(sink, SESSION_SCHEMA, **kw) as writer:
                for _ in range(5):
                    writer.write_table(table)
            cpu.append(time.process_time() - c0)
        print(f"{name:46s} {sorted(cpu)[2]:6.3f} s CPU  {len(sink.getvalue()) / 1e6:6.1f} MB")


if __name__ == "__main__":
    main()
