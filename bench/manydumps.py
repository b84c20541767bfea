"""The many-dump shape of real cases (issue 17): hundreds of per-subscriber dumps.

Real cases are not one big file: police ask each operator for each subscriber and
period, and Jio sends a subscriber's fortnight in weekly part files. So the fixed
cost per dump (hashing, detection, the Parquet file, the overlap check against the
other dumps, the quality summary, the workspace bookkeeping) weighs as much as the
rows. This module writes such a case with the simulator's ``realistic`` preset
(mixed operators and layouts, preambles, footers, each dump its own period) and
measures ``ingest`` of the folder against ``pyarrow.csv.read_csv`` of the same
files in the same run (the parsing floor), each in a fresh process.

    python -m bench.manydumps                 # 400 files, ~3M rows
    python -m bench.manydumps --files 40 --rows 40000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


#: The simulator's realistic span moved to start on the 13th: the paper layout has no
#: preamble stating a period, so a dump whose dates all read both ways (02/07/2023) would
#: need ``--date-order``, which one run over several operators cannot give to only some.
START = "2023-07-13"


def _realistic(subscribers: int, seed: int, **overrides: object):
    from cdrnet.synth.scenario import build_scenario

    return build_scenario("realistic", subscribers=subscribers, seed=seed, start_date=START, **overrides)


def _subscribers_for(files: int, seed: int) -> int:
    """Subscribers whose realistic plan writes about ``files`` files (the plan alone, cheap)."""
    from cdrnet.synth.simulate import _file_names, build_population, plan_dumps

    def count(n: int) -> int:
        sc = _realistic(n, seed)
        pop = build_population(sc, np.random.default_rng(sc.seed))
        return len(_file_names(sc, plan_dumps(sc, len(pop.msisdn)), pop.msisdn, Path(".")).paths)

    lo, hi = 2, max(4, files)
    while lo < hi:  # files grow with subscribers (not strictly: a bisection is close enough)
        mid = (lo + hi) // 2
        if count(mid) < files:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _background_rate_for(subscribers: int, rows: int, seed: int) -> float:
    """The background rate that makes the case about ``rows`` sessions.

    Sessions grow linearly with the background rate; two generated days (at the
    preset's rate and 100 more) give the line, the plan gives the dump-days.
    """
    from cdrnet.synth.simulate import DayGenerator, build_population, plan_dumps

    sc = _realistic(subscribers, seed)
    pop = build_population(sc, np.random.default_rng(sc.seed))
    first, last = plan_dumps(sc, subscribers).day_range(pd.Timestamp(sc.start_date))
    subscriber_days = int((last - first + 1).sum())
    base = sc.background_rate
    at = {}
    for rate in (base, base + 100.0):
        sc_r = _realistic(subscribers, seed, background_rate=rate)
        at[rate] = len(DayGenerator(sc_r, pop).generate(0)) / subscribers
    slope = (at[base + 100.0] - at[base]) / 100.0
    per_day = rows / max(1, subscriber_days)
    return max(1.0, base + (per_day - at[base]) / max(slope, 1e-9))


def _header_line(path: Path, headers: list[str]) -> int:
    """0-based line of the column header (the floor skips the preamble above it)."""
    with open(path, encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if line.rstrip("\r\n") in headers:
                return k
            if k > 100:
                break
    raise ValueError(f"{path.name}: no header in the first 100 lines")


def make_case(folder: Path, files: int, rows: int, seed: int = 5) -> dict:
    """Write a realistic many-dump case to ``folder/dumps``; return its shape.

    Returns ``{"files", "sessions", "bytes", "subscribers", "layouts", "skip_rows"}``
    where ``skip_rows`` maps each file to its preamble length (for the floor).
    """
    from cdrnet.synth.scenario import LAYOUTS
    from cdrnet.synth.simulate import simulate
    from cdrnet.synth.writers import header

    subscribers = _subscribers_for(files, seed)
    rate = _background_rate_for(subscribers, rows, seed)
    sc = _realistic(subscribers, seed, background_rate=rate)
    summary = simulate(sc, folder)
    (folder / "truth.csv").unlink(missing_ok=True)  # only dumps in the folder: the floor reads them all
    (folder / "scenario.json").unlink(missing_ok=True)
    headers = [",".join(header(layout)) for layout in LAYOUTS]
    paths = sorted((folder / "dumps").glob("*.csv"))
    return {"files": len(paths), "sessions": int(summary["sessions"]), "subscribers": subscribers,
            "bytes": sum(p.stat().st_size for p in paths), "layouts": summary["layouts"],
            "skip_rows": {str(p): _header_line(p, headers) for p in paths}}


# Each measurement runs in a fresh process (imports and caches paid alike, peak RSS its own).
MANY_OURS = """
import json, time, resource
from bench.peak import children_peak_mb, peak_mb
from cdrnet.allocator import keep_heap
from cdrnet.workspace import Workspace
from cdrnet.loader.ingest import ingest_paths
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.loader.normalize import Options
from cdrnet.loader.signatures import load_signatures
if __name__ == "__main__":
    keep_heap()  # as `cdrnet ingest` does
    ws = Workspace({ws!r}).create()
    t0 = time.perf_counter()
    r = ingest_paths([{path!r}], ws, builtin_layouts(), Options(rules=load_signatures("modern")),
                     "modern", show_progress=False, workers={workers})
    secs = time.perf_counter() - t0
    assert not r.failed and not r.refused, (r.failed, r.refused)
    assert all(rep.accounted for rep in r.loaded)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({{"seconds": secs, "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                      "rss_mb": max(peak_mb(), children_peak_mb()),
                      "workers": r.workers, "dumps": len(r.loaded), "loaded": sum(x.loaded for x in r.loaded)}}))
"""

MANY_FLOOR = """
import json, time, resource
from bench.peak import peak_mb
import pyarrow.csv as pc
skip = json.load(open({skip!r}))
t0 = time.perf_counter()
rows = 0
for path, k in skip.items():
    t = pc.read_csv(path, read_options=pc.ReadOptions(skip_rows=k),
                    parse_options=pc.ParseOptions(invalid_row_handler=lambda row: "skip"))
    rows += t.num_rows
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": time.perf_counter() - t0, "rows": rows, "cpu_s": me.ru_utime + me.ru_stime,
                  "rss_mb": peak_mb()}}))
"""


def bench_many_dumps(work: Path, files: int, rows: int, repeats: int, child, reuse: Path | None = None) -> list[dict]:
    """Ingest of a many-dump folder (1 process and 2 workers) against the pyarrow floor, side by side.

    ``child(code, extra)`` runs code in a fresh process with the commands' process options (ours
    and the floor alike) and returns (seconds, peak RSS MB);
    ``reuse``: a case written before by ``--keep`` (generating 3M rows takes minutes).
    """
    case = work / "many"
    if reuse is not None and (reuse / "shape.json").exists():  # written by --keep: same generator, same seed
        case = reuse
        shape = json.loads((reuse / "shape.json").read_text(encoding="utf-8"))
    else:
        shape = make_case(case, files, rows)
    skip = work / "many_skip.json"
    skip.write_text(json.dumps(shape["skip_rows"]), encoding="utf-8")
    ws_path = work / "many_ws"
    workers_auto = max(2, os.cpu_count() or 1)
    times: dict[str, list[float]] = {"1": [], "auto": [], "floor": []}
    cpu: dict[str, list[float]] = {"1": [], "auto": [], "floor": []}
    rss = {"1": 0.0, "auto": 0.0, "floor": 0.0}
    used: dict[str, int] = {}
    for _ in range(repeats):  # interleaved, so a burst of load elsewhere hits every method alike
        for label, workers in (("auto", workers_auto), ("1", 1)):
            shutil.rmtree(ws_path, ignore_errors=True)
            info: dict = {}
            t, r = child(MANY_OURS.format(ws=str(ws_path), path=str(case / "dumps"), workers=workers), info)
            assert info["loaded"] == shape["sessions"] or info["dumps"] == shape["files"], (info, shape)
            used[label] = info["workers"]
            times[label].append(t)
            cpu[label].append(info["cpu_s"])
            rss[label] = max(rss[label], r)
        info = {}
        t, r = child(MANY_FLOOR.format(skip=str(skip)), info)
        times["floor"].append(t)
        cpu["floor"].append(info["cpu_s"])
        rss["floor"] = max(rss["floor"], r)
    if case != reuse:
        shutil.rmtree(case, ignore_errors=True)
    shutil.rmtree(ws_path, ignore_errors=True)
    floor = statistics.median(times["floor"])
    out = []
    size = f"{shape['sessions']} ({shape['files']} files)"
    for label in ("1", "auto"):
        ours = statistics.median(times[label])
        name = "1 process" if used[label] <= 1 else f"{used[label]} worker processes"
        out.append({"stage": f"many dumps: ingest folder, {name}", "size": size, "ours_s": ours,
                    "reference": "pyarrow.csv.read_csv, each file", "reference_s": floor, "ratio": ours / floor,
                    "rows_per_s": shape["sessions"] / ours, "peak_rss_mb": rss[label],
                    "reference_rss_mb": rss["floor"], "bytes": shape["bytes"]})
    # CPU seconds (all processes): what the work costs whatever else the machine runs.
    floor_cpu = statistics.median(cpu["floor"])
    for label in ("1", "auto"):
        name = "1 process" if used[label] <= 1 else f"{used[label]} worker processes"
        ours = statistics.median(cpu[label])
        out.append({"stage": f"  CPU seconds (all processes), {name}", "size": size, "ours_s": ours,
                    "reference": "pyarrow.csv.read_csv CPU seconds", "reference_s": floor_cpu,
                    "ratio": ours / floor_cpu})
    return out


def profile_case(folder: Path, top: int = 30) -> None:
    """Where one process spends its CPU on a many-dump folder (cProfile, CPU clock: other load on
    the machine does not move it), then the fixed cost of normalising one block: the same dump's
    first 10 rows against all of them, so the per-dump part shows apart from the per-row part."""
    import cProfile
    import pstats
    import tempfile
    import time
    from dataclasses import replace

    from cdrnet.loader import parse
    from cdrnet.loader.detect import detect
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.loader.textblocks import iter_blocks
    from cdrnet.workspace import Workspace

    opts = Options(rules=load_signatures("modern"))
    with tempfile.TemporaryDirectory(prefix="cdrnet-many-profile-") as tmp:
        ws = Workspace(Path(tmp) / "ws").create()
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        res = ingest_paths([str(folder)], ws, builtin_layouts(), opts, "modern", show_progress=False)
        prof.disable()
    print(f"{len(res.loaded)} dumps, {sum(r.loaded for r in res.loaded)} sessions")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)
    for path in sorted(folder.glob("*.csv"))[:: max(1, len(list(folder.glob("*.csv"))) // 5)]:
        with open(path, "rb") as fh:
            data = next(iter_blocks(fh)).data
        det = detect(data[: 1 << 20].decode("utf-8", "replace").split("\n"), builtin_layouts(), path.name)
        body = data[parse._line_starts(data)[det.header_line]:]
        first = det.header_line + 1
        det = replace(det, decision=parse.process_block(body, first, det, opts, "p", "", path.name).decision)
        head = b"\n".join(body.split(b"\n")[:10]) + b"\n"
        cpu = {}
        for label, block in (("10 rows", head), ("whole dump", body)):
            t0 = time.process_time()
            for _ in range(5):
                parse.process_block(block, first, det, opts, "p", "", path.name)
            cpu[label] = (time.process_time() - t0) / 5
        lines = body.count(b"\n")
        print(f"{path.name}: normalise {cpu['10 rows'] * 1000:.0f} ms CPU for 10 rows, "
              f"{cpu['whole dump'] * 1000:.0f} ms for all {lines} lines")


def phase_costs(folder: Path) -> None:
    """CPU seconds per stage of one process ingesting a folder of dumps (the main thread's clock, no
    profiler overhead), each stage wrapped where it is called: where the per-dump cost goes. The
    process clock counted the Parquet writer's thread inside whichever stage it overlapped."""
    import functools
    import tempfile
    import time

    import cdrnet.workspace as wsm
    from cdrnet.loader import ingest, parse, quality, smallbatch
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures

    spent: dict[str, float] = {}  # in the order the stages are listed below

    def wrap(owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*a: object, **k: object) -> object:
            t0 = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                spent[label] += time.thread_time() - t0
        setattr(owner, name, timed)

    stages = (
            (ingest, "look_ahead", "look-ahead (read, detect, split, normalise small dumps)"),
            (smallbatch, "normalise_together", "  of which normalising (together)"),
            (smallbatch, "prepare_block", "  of which splitting rows, deciding date order"),
            (parse, "process_block", "normalising a block alone (big dumps, later blocks)"),
            (parse.DumpParser, "_emit", "per dump: duplicates, store, quality summary"),
            (quality.Accumulator, "add", "  of which quality summary"),
            (wsm.DumpWriter, "write_sessions", "  of which Parquet write"),
            (parse.DumpParser, "_duplicate_reasons", "  of which duplicate reasons"),
            (parse.DumpParser, "_screen_strays", "per dump: stray screen"),
            (ingest, "finish_report", "per dump: overlap check"),
            (wsm.DumpWriter, "commit", "per dump: commit (Parquet close, report, rename)"),
            (wsm.Workspace, "begin_dump", "per dump: open the store's writer"))
    for owner, name, label in stages:
        spent[label] = 0.0
        wrap(owner, name, label)
    opts = Options(rules=load_signatures("modern"))
    with tempfile.TemporaryDirectory(prefix="cdrnet-many-phases-") as tmp:
        ws = wsm.Workspace(Path(tmp) / "ws").create()
        t0, t0_main = time.process_time(), time.thread_time()
        res = ingest.ingest_paths([str(folder)], ws, builtin_layouts(), opts, "modern", show_progress=False)
        total, main = time.process_time() - t0, time.thread_time() - t0_main
    n = max(1, len(res.loaded))
    from bench.peak import peak_mb

    peak = peak_mb()
    print(f"{len(res.loaded)} dumps, {sum(r.loaded for r in res.loaded)} sessions: {total:.1f} CPU s, "
          f"{total / n * 1000:.1f} ms a dump, peak RSS {peak:.0f} MB; main thread {main:.1f} CPU s "
          f"(the stages below are its CPU time: the Parquet writer's thread works beside it)")
    for label, secs in spent.items():
        print(f"{label:58s} {secs:7.2f} s {secs / n * 1000:7.1f} ms a dump")


def main() -> None:
    import tempfile

    from bench.__main__ import child, markdown

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--keep", default=None, help="write the case to this folder and stop (for profiling)")
    ap.add_argument("--profile", default=None, help="profile one process ingesting this folder of dumps")
    ap.add_argument("--phases", default=None, help="CPU seconds per ingest stage on this folder of dumps")
    args = ap.parse_args()
    from bench.__main__ import compile_package

    compile_package()  # as an installed package runs (its .pyc written)
    if args.phases:
        phase_costs(Path(args.phases))
        return
    if args.profile:
        profile_case(Path(args.profile))
        return
    if args.keep:
        shape = make_case(Path(args.keep), args.files, args.rows)
        print(json.dumps({k: v for k, v in shape.items() if k != "skip_rows"}))
        Path(args.keep, "skip.json").write_text(json.dumps(shape["skip_rows"]), encoding="utf-8")
        Path(args.keep, "shape.json").write_text(json.dumps(shape), encoding="utf-8")
        return
    work = Path(tempfile.mkdtemp(prefix="cdrnet-many-"))
    try:
        print(markdown(pd.DataFrame(bench_many_dumps(work, args.files, args.rows, args.repeats, child))),
              file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
