"""Profile of normalising one block (where parse time goes), on a simulated dump.

    python -m bench.profile_block            # 100k-row block, warm (third run profiled)

With line_profiler installed (``pip install line_profiler``) it prints the line-by-line report
for ``process_block`` and ``normalise_block``; on a plain install it prints the standard
library's cProfile report of the same call (functions, not lines). The numbers quoted in
docs/benchmarks.md come from this command.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main() -> None:
    try:
        from line_profiler import LineProfiler
    except ImportError:
        LineProfiler = None  # noqa: N806 - the optional class, or None
    from bench.__main__ import make_dump
    from cdrnet.loader import normalize, parse
    from cdrnet.loader.detect import detect
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.loader.textblocks import iter_blocks

    with tempfile.TemporaryDirectory(prefix="cdrnet-profile-") as tmp:
        path = Path(tmp) / "dump.csv"
        make_dump(path, 120_000)
        with open(path, "rb") as fh:
            block = next(iter_blocks(fh))
    det = detect(block.data[: 1 << 20].decode().split("\n"), builtin_layouts(), "profile")
    body = block.data[block.data.index(b"\n") + 1 :]
    opts = normalize.Options(rules=load_signatures("modern"), date_order="dmy")  # the simulator writes day-first
    for _ in range(2):  # warm: allocator, Arrow kernels, imports
        out = parse.process_block(body, 2, det, opts, "profile", "")
    # CPU seconds without a profiler, median of 5: a figure other load on the machine barely moves.
    later = replace(det, decision=out.decision)  # a dump's later blocks: the date order is decided
    for label, d in (("first block of a dump (decides the date order)", det), ("later block", later)):
        cpu = []
        for _ in range(5):
            c0 = time.process_time()
            parse.process_block(body, 2, d, opts, "profile", "")
            cpu.append(time.process_time() - c0)
        print(f"{len(out.sessions)} sessions, {label}: {sorted(cpu)[2] * 1000:.0f} ms CPU (median of 5)")
    kernel_side_by_side(body, later, opts)
    if LineProfiler is None:
        import cProfile
        import pstats

        print("line_profiler is not installed: cProfile by function (pip install line_profiler for lines)")
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        out = prof.runcall(parse.process_block, body, 2, det, opts, "profile", "")
        print(f"{len(out.sessions)} sessions in {time.perf_counter() - t0:.3f} s (with profiling overhead)")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
        return
    lp = LineProfiler()
    lp.add_function(normalize.normalise_block)
    profiled = lp(parse.process_block)
    t0 = time.perf_counter()
    out = profiled(body, 2, det, opts, "profile", "")
    print(f"{len(out.sessions)} sessions in {time.perf_counter() - t0:.3f} s (with profiling overhead)")
    lp.print_stats(output_unit=1e-3)


def kernel_side_by_side(body: bytes, det: object, opts: object) -> None:
    """CPU ms of a later block and of the pieces the C kernel serves, with it and with the pure path,
    interleaved in one run (the machine's other load falls on both alike)."""
    import numpy as np

    from cdrnet.loader import native, normalize, parse
    from cdrnet.loader.identifiers import to_int

    if native.KERNEL is None:
        print("the compiled kernel (cdrnet.loader._native) is not built: pure path only")
        return
    raw, _ = parse._split_arrow(body, det)
    keep = np.ones(len(raw), dtype=bool)
    sessions = parse.process_block(body, 2, det, opts, "profile", "").sessions
    ports = [raw.iloc[:, i] for i, name in enumerate(raw.columns) if "PORT" in name or "VOLUME" in name]
    pieces = {
        "whole later block": lambda: parse.process_block(body, 2, det, opts, "profile", ""),
        "raw-row hash": lambda: normalize.raw_row_hash(raw, keep, det),
        "session hashes": lambda: normalize.session_hashes(sessions),
        f"to_int x{len(ports)}": lambda: [to_int(c, 0, 2**62) for c in ports],
    }
    kernel, cpu = native.KERNEL, {}
    try:
        for _ in range(5):
            for name, fn in pieces.items():
                for mode in ("kernel", "pure"):
                    native.KERNEL = kernel if mode == "kernel" else None
                    c0 = time.process_time()
                    fn()
                    cpu.setdefault((name, mode), []).append(time.process_time() - c0)
    finally:
        native.KERNEL = kernel
    print("CPU ms, median of 5, interleaved:  kernel  pure path  ratio")
    for name in pieces:
        k, p = (sorted(cpu[(name, m)])[2] * 1000 for m in ("kernel", "pure"))
        print(f"  {name:30s} {k:7.1f} {p:9.1f}  {p / max(k, 1e-9):5.2f}x")


if __name__ == "__main__":
    main()
