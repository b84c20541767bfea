"""The benchmarks need neither the tests nor pytest: ``python -m bench`` runs on a plain install from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BLOCKED = "import sys; [sys.modules.__setitem__(m, None) for m in ('pytest', 'tests', 'selenium', 'line_profiler')]\n"


def run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", BLOCKED + code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_bench_stages_run_without_test_code(tmp_path):
    out = run("from pathlib import Path\n"
              "import bench.__main__ as b, bench.profile_block, bench.evaluation\n"
              "f = b.two_subscribers(5)\n"
              "assert len(f) == 10 and f['msisdn'].nunique() == 2\n"
              f"rows = b.bench_map(Path({str(tmp_path)!r}), 30)\n"
              "print(rows[0]['stage'], rows[0]['ours_s'] > 0, '|', rows[1]['reference'])\n", tmp_path)
    assert out.returncode == 0, out.stderr
    # Without selenium the map is still written and timed; the browser stage says why it was skipped.
    assert out.stdout.startswith("map: write HTML") and " True | browser skipped: " in out.stdout


def test_bench_help_from_another_folder(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=tmp_path, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--quick" in out.stdout


def test_a_bench_child_reports_its_own_peak_not_its_parents():
    """``ru_maxrss`` survives exec: the many-dump rows printed the bench parent's 385 MB for one
    process, two workers and the floor alike. ``bench.peak.peak_mb`` is the child's own."""
    import subprocess
    import sys

    import numpy as np

    ballast = np.ones(400 * 2**20 // 8)  # this process at 400+ MB when the child is started
    code = ("import resource; from bench.peak import peak_mb\n"
            "print(peak_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, inherited = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                               check=True).stdout.split())
    assert ballast.sum() > 0
    assert inherited > 400 and own < 200


def test_the_bench_compiles_cdrnet_before_it_times_anything():
    """Every module cdrnet may import lazily inside a timed part has its bytecode written first
    (as an installed package has), even with PYTHONDONTWRITEBYTECODE set."""
    import importlib.util
    import inspect

    import cdrnet.graph.bulk as bulk
    import cdrnet.loader.ingest as ingest
    from bench.__main__ import compile_package

    for module in (ingest, bulk):
        Path(importlib.util.cache_from_source(inspect.getfile(module))).unlink(missing_ok=True)
    compile_package()
    for module in (ingest, bulk):
        assert Path(importlib.util.cache_from_source(inspect.getfile(module))).is_file()
