"""Many dumps parsed by worker processes leave exactly the workspace one process leaves (issue 17).

The case is a simulated realistic one (mixed operators and layouts, Jio part files,
preambles, footers), with malformed rows, an operator re-send overlapping another
dump, the same file delivered twice, an archive member (parsed in the parent, between
dumps parsed by workers) and a file that is no dump beside them.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cdrnet.loader.ingest import ingest_paths
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.loader.normalize import Options
from cdrnet.loader.signatures import load_signatures
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    sc = build_scenario("realistic", subscribers=8, days=9, seed=21, start_date="2023-07-13", malformed_share=0.01)
    simulate(sc, root / "sim")
    dumps = root / "case"
    shutil.copytree(root / "sim" / "dumps", dumps)
    files = sorted(dumps.glob("*.csv"))
    assert len(files) >= 8
    # An operator re-send: the first half of one dump delivered again as another file.
    text = files[0].read_text(encoding="utf-8").splitlines(keepends=True)
    (dumps / "zz_resend.csv").write_text("".join(text[: len(text) // 2]), encoding="utf-8")
    # The same file twice (another folder): unchanged the second time, in both modes.
    (dumps / "copy").mkdir()
    shutil.copy(files[1], dumps / "copy" / files[1].name)
    # An archive member: its opener cannot travel to a worker, so the parent parses it at its turn.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner.csv", files[2].read_text(encoding="utf-8").replace("\n", "\r\n"))
    (dumps / "m_archive.zip").write_bytes(buf.getvalue())
    (dumps / "notes.txt").write_text("case notes, not a dump\n", encoding="utf-8")
    return dumps


def _ingest(case, ws_path, workers: int):
    ws = Workspace(ws_path).create()
    res = ingest_paths([str(case)], ws, builtin_layouts(), Options(rules=load_signatures("modern")), "modern",
                       show_progress=False, workers=workers)
    return ws, res


def _canonical(ws: Workspace) -> dict:
    """Every table and report the workspace holds, without the ingest clock."""
    reports = {}
    for r in ws.reports():
        d = r.to_dict()
        d.pop("ingested_at")
        d.pop("first_ingested_at")
        reports[r.sha256] = d
    tables = {p.stem: pq.read_table(p).to_pandas() for p in sorted(ws.dumps_dir.glob("*.parquet"))}
    rejects = {p.stem: p.read_text(encoding="utf-8") for p in sorted(ws.rejects_dir.glob("*.csv"))}
    return {"reports": reports, "tables": tables, "rejects": rejects,
            "combined": pd.read_csv(ws.root / "rejects.csv", dtype=str, keep_default_na=False)}


def test_parallel_ingest_equals_one_process(case, tmp_path):
    ws1, r1 = _ingest(case, tmp_path / "one", 1)
    ws2, r2 = _ingest(case, tmp_path / "two", 2)
    assert r1.workers == 1 and r2.workers == 2
    # The same outcome per input, in the same order.
    assert [r.name for r in r1.loaded] == [r.name for r in r2.loaded]
    assert r1.unchanged == r2.unchanged and len(r1.unchanged) == 1
    assert [(r.name, r.kind) for r in r1.refused] == [(r.name, r.kind) for r in r2.refused]
    assert [x.name for x in r1.refused] == [str(case / "notes.txt")]
    assert not r1.failed and not r2.failed
    assert all(r.accounted for r in r2.loaded)
    one, two = _canonical(ws1), _canonical(ws2)
    assert json.dumps(one["reports"], sort_keys=True) == json.dumps(two["reports"], sort_keys=True)
    assert one["tables"].keys() == two["tables"].keys()
    for sha, table in one["tables"].items():
        pd.testing.assert_frame_equal(table, two["tables"][sha])
    assert one["rejects"] == two["rejects"]
    # rejects.csv lists dumps in ingest order (ingested_at, to the microsecond; ties break by name).
    key = ["sha256", "part", "line"]
    pd.testing.assert_frame_equal(one["combined"].sort_values(key).reset_index(drop=True),
                                  two["combined"].sort_values(key).reset_index(drop=True))
    # The case exercises what the parent must do in order: rejects, an overlap, an archive member.
    assert len(one["combined"]) > 0
    resend = next(r for r in r2.loaded if r.name.endswith("zz_resend.csv"))
    assert resend.duplicates_of_other_dumps == resend.loaded > 0
    assert any("m_archive.zip" in r.name for r in r2.loaded)
    assert not list(ws2.dumps_dir.glob(".*.tmp-*")) and not list(ws2.rejects_dir.glob(".*.tmp-*"))


def test_parallel_ingest_again_changes_nothing(case, tmp_path):
    ws, first = _ingest(case, tmp_path / "ws", 2)
    before = _canonical(ws)
    again = ingest_paths([str(case)], ws, builtin_layouts(), Options(rules=load_signatures("modern")), "modern",
                         show_progress=False, workers=2)
    assert not again.loaded and len(again.unchanged) == len(first.loaded) + len(first.unchanged)
    assert json.dumps(_canonical(ws)["reports"], sort_keys=True) == json.dumps(before["reports"], sort_keys=True)


def test_one_rejects_file_rebuild_per_batch(case, tmp_path, monkeypatch):
    """Committing a dump does not rewrite the case-wide rejects.csv (quadratic on hundreds of
    dumps): the batch writes it once, at its end, and it lists every dump's rejects."""
    calls = []
    original = Workspace.rebuild_rejects
    monkeypatch.setattr(Workspace, "rebuild_rejects", lambda self: (calls.append(1), original(self)))
    ws, res = _ingest(case, tmp_path / "ws", 1)
    assert len(res.loaded) > 5 and len(calls) == 1
    combined = pd.read_csv(ws.root / "rejects.csv", dtype=str, keep_default_na=False)
    assert len(combined) == sum(r.rejected_total for r in res.loaded)


def test_replace_with_workers_reads_small_dumps_ahead_on_threads(case, tmp_path, monkeypatch):
    """``--replace`` (or a Neo4j store) with a named count: no whole-dump workers, so each dump's
    blocks go to worker threads, and the small dumps are still read ahead and normalised together
    (until 2026-12-01 a pool turned the look-ahead off): the workspace is the one-thread one."""
    from cdrnet.loader import ingest as ingest_mod
    from cdrnet.loader import textblocks

    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 1 << 16)  # the case is then big enough for a pool
    runs: list[int] = []
    real = ingest_mod.look_ahead
    monkeypatch.setattr(ingest_mod, "look_ahead", lambda run, *a: runs.append(len(run)) or real(run, *a))
    got = {}
    for workers in (1, 2):
        ws, _ = _ingest(case, tmp_path / f"ws{workers}", 1)
        again = ingest_paths([str(case)], ws, builtin_layouts(), Options(rules=load_signatures("modern")), "modern",
                             show_progress=False, workers=workers, replace=True)
        assert again.workers == workers and len(again.replaced) == len(again.loaded) > 5
        got[workers] = _canonical(ws)
    assert runs and all(n > 1 for n in runs) and len(runs) % 4 == 0  # two first loads, two replaces alike
    assert got[1]["tables"].keys() == got[2]["tables"].keys()
    for sha, table in got[1]["tables"].items():
        pd.testing.assert_frame_equal(table, got[2]["tables"][sha])
    assert got[1]["rejects"] == got[2]["rejects"]


def test_workers_chosen_by_the_input():
    """No count named: workers only for several dumps of AUTO_WORKERS_BYTES or more, parsed whole."""
    import os

    from cdrnet.loader.workers import AUTO_WORKERS_BYTES, AUTO_WORKERS_MAX, auto_workers

    cores = os.cpu_count() or 1
    big = AUTO_WORKERS_BYTES
    assert auto_workers(400, 700 << 20, True) == min(cores, AUTO_WORKERS_MAX)
    assert auto_workers(3, big, True) == min(cores, AUTO_WORKERS_MAX, 3)
    assert auto_workers(400, big - 1, True) == 1  # a small case: starting workers costs more than they save
    assert auto_workers(1, 10 * big, True) == 1  # one big dump: its blocks would travel between processes
    assert auto_workers(400, 10 * big, False) == 1  # --replace or Neo4j: no whole dumps staged by workers


def test_the_cli_without_workers_chooses_them_and_loads_the_same(case, tmp_path, monkeypatch, capsys):
    """``cdrnet ingest`` without --workers on a case past the threshold (lowered here) parses it with
    workers, and the workspace is the one-process one."""
    import os

    import cdrnet.loader.ingest as ingest_mod
    import cdrnet.loader.workers as workers_mod
    from tests.conftest import run_cli

    monkeypatch.delenv("CDRNET_WORKERS", raising=False)
    monkeypatch.setattr(workers_mod, "AUTO_WORKERS_BYTES", 1)
    chosen = []
    real = ingest_mod.auto_workers
    monkeypatch.setattr(ingest_mod, "auto_workers", lambda *a: chosen.append(real(*a)) or chosen[-1])
    code, _out, err = run_cli(capsys, "-w", str(tmp_path / "auto"), "ingest", str(case))
    assert code == 0, err
    assert chosen == [min(os.cpu_count() or 1, workers_mod.AUTO_WORKERS_MAX)]
    ws1, _ = _ingest(case, tmp_path / "one", 1)
    one, auto = _canonical(ws1), _canonical(Workspace(tmp_path / "auto"))
    assert json.dumps(one["reports"], sort_keys=True) == json.dumps(auto["reports"], sort_keys=True)
    for sha, table in one["tables"].items():
        pd.testing.assert_frame_equal(table, auto["tables"][sha])
