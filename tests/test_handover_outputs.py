"""Issue 15, outputs an analyst can hand over: ``pair`` keeps the screen short and writes every
instance to CSV, ``map`` writes under the workspace, the evidence page says whether the pair is a
link, and ``ingest FOLDER`` skips the case notes beside the dumps. Exit codes and exact lines."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cdrnet.synth.writers import render
from tests.conftest import make_sessions, run_cli

A, B, C = "919876543210", "919812345678", "919800000003"
SKIP_SUFFIX = "(dumps are .csv/.txt/.tsv/.xls/.xlsx/.htm(l)/.zip/.7z/.rar/.gz)"


def store_line(ws: Path) -> str:
    return f"store: workspace {ws.resolve()}"


#: What map, summary, report and evidence say before any link run (issue 15: one network everywhere).
RELINK_DEFAULTS = ("network: re-linked now with default parameters: window 180s (start), episode gap 180s, FDR 0.05 "
                   "(no link run yet; nothing stored, 'cdrnet link' stores)")


@pytest.fixture
def busy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace where A and B overlap 27 times on one day (more than the screen shows)."""
    for n, m, seed in (("a", A, 1), ("b", B, 2)):
        (tmp_path / f"{n}.csv").write_text(render(make_sessions(200, m, seed=seed, start="2023-04-17 00:00:00"),
                                                  "paper"))
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"))
    assert code == 0, err
    return ws


@pytest.fixture
def linked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace over three days: B mirrors A 20 s later (a link), C is independent of both."""
    a = pd.concat([make_sessions(40, A, seed=s, start=f"2023-04-{17 + s} 00:00:00") for s in range(3)])
    b = a.assign(msisdn=B, start=a["start"] + pd.Timedelta(seconds=20), end=a["end"] + pd.Timedelta(seconds=20))
    c = pd.concat([make_sessions(40, C, seed=10 + s, start=f"2023-04-{17 + s} 00:00:00") for s in range(3)])
    paths = []
    for n, f in (("a", a), ("b", b), ("c", c)):
        paths.append(tmp_path / f"{n}.csv")
        paths[-1].write_text(render(f.reset_index(drop=True), "paper"))
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", *map(str, paths))
    assert code == 0, err
    return ws


# --- 1. pair: 20 instances on screen, every instance in CSV -------------------------------------

def _tab_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.count("\t") == 9]


def test_busy_pair_prints_twenty_instances_and_writes_the_full_list(busy, capsys):
    code, out, err = run_cli(capsys, "-w", str(busy), "pair", A, B)
    assert code == 0, err
    lines = out.splitlines()
    csv, txt = busy / "pairs" / f"pair_{A}_{B}.csv", busy / "pairs" / f"pair_{A}_{B}.txt"
    assert lines[0] == store_line(busy)
    assert lines[1] == ("Found the following numbers that were using the same application within 180 seconds "
                        "of each other")
    assert lines[2].startswith("Application\tPort\tNumber1")
    assert len(_tab_lines(lines[3:])) == 20 and all(line.count("\t") == 9 for line in lines[3:23])
    assert lines[23:26] == [f"… 7 more instances in {csv}", "",
                            "There were 27 instances of overlap in activity between the two numbers."]
    assert lines[-6] == f"Total number of sessions were: 400 ({A}: 200, {B}: 200)"
    assert re.fullmatch(r"Execution time was: [0-9.]+ seconds", lines[-5])
    assert lines[-4:] == ["No score: the two numbers were observed together on 1 day(s) (their dumps' periods); "
                          "at least 2 are needed to compare with chance.",
                          "Times are shown in Asia/Kolkata.", f"written {csv}", f"written {txt}"]
    full = pd.read_csv(csv, dtype=str)
    assert len(full) == 27 and list(full.columns[:3]) == ["application", "port", "number1"]
    assert len(_tab_lines(txt.read_text(encoding="utf-8").splitlines()[2:])) == 27  # the file holds them all


def test_pair_of_files_writes_under_the_workspace_or_out(capsys, tmp_path, monkeypatch):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(render(make_sessions(20, A, seed=1), "paper"))
    b.write_text(render(make_sessions(20, B, seed=2), "paper"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "pair", str(a), str(b))
    assert code == 0, err
    here = Path("cdrnet-workspace") / "pairs"
    assert out.splitlines()[0] == (f"store: none (reading {a} and {b} directly; outputs in "
                                   f"{(tmp_path / 'cdrnet-workspace').resolve()})")
    assert out.splitlines()[-2:] == [f"written {here / f'pair_{A}_{B}.csv'}", f"written {here / f'pair_{A}_{B}.txt'}"]
    assert (tmp_path / here / f"pair_{A}_{B}.csv").is_file()
    assert not (tmp_path / "cdrnet-workspace" / "dumps").exists()  # nothing was loaded
    for flag in ("--out", "--out-dir"):
        code, out, err = run_cli(capsys, "pair", str(a), str(b), flag, str(tmp_path / "rep"))
        assert code == 0, err
        assert out.splitlines()[-1] == f"written {tmp_path / 'rep' / f'pair_{A}_{B}.txt'}"


# --- 2. map: under the workspace by default -----------------------------------------------------

def test_map_writes_under_the_workspace_and_prints_the_path(busy, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "-w", str(busy), "map")
    assert code == 0, err
    assert out.splitlines() == [store_line(busy), RELINK_DEFAULTS, "no pair has any co-usage evidence: the map shows 2 "
                                "subscriber(s) and no links", f"written {busy / 'map.html'}"]
    assert (busy / "map.html").is_file() and not (tmp_path / "map.html").exists()
    code, out, err = run_cli(capsys, "-w", str(busy), "map", "--format", "json")
    assert code == 0 and out.splitlines()[-1] == f"written {busy / 'map.json'}"
    code, out, err = run_cli(capsys, "-w", str(busy), "map", "--out", str(tmp_path / "m.html"))
    assert code == 0 and out.splitlines()[-1] == f"written {tmp_path / 'm.html'}"


# --- 3. evidence: a link only when it is one ----------------------------------------------------

def _h1(page: Path) -> str:
    return re.search(r"<h1>(.*)</h1>", page.read_text(encoding="utf-8")).group(1)


def test_evidence_titles_a_link_only_when_the_pair_is_one(linked, capsys):
    code, out, err = run_cli(capsys, "-w", str(linked), "evidence", A, B)
    assert code == 0, err
    folder = linked / "evidence"
    page = folder / f"evidence_{B}_{A}.html"
    lines = out.splitlines()
    assert lines[1] == RELINK_DEFAULTS
    assert re.fullmatch(rf"{B} -- {A}: score [0-9.]+ \(p = [0-9.e-]+\), \d+ supporting events; "
                        r"a link \(q = [0-9.e-]+, FDR 0\.05, link = True\)", lines[2])
    assert lines[3:] == [f"written {folder / f'evidence_{B}_{A}.csv'}", f"written {page}"]
    assert _h1(page) == f"Evidence for the link {B} -- {A}"
    assert re.search(r"<p>This pair is a link \(q = [0-9.e-]+, FDR 0\.05, link = True\)\.</p>", page.read_text())

    code, out, err = run_cli(capsys, "-w", str(linked), "evidence", A, C)
    assert code == 0, err
    page = folder / f"evidence_{C}_{A}.html"
    q = re.search(r"not a link \(q = ([0-9.e-]+), FDR 0\.05, link = False\)", out.splitlines()[2]).group(1)
    assert float(q) > 0.05
    assert _h1(page) == f"Evidence for the pair {C} -- {A} (not a link: q = {q}, FDR 0.05, link = False)"
    assert f"<p>This pair is not a link (q = {q}, FDR 0.05, link = False).</p>" in page.read_text()
    assert "Evidence for the link" not in page.read_text()


# --- 4. ingest FOLDER: notes beside the dumps are skipped, not refused --------------------------

def _case_folder(root: Path) -> Path:
    d = root / "in"
    d.mkdir()
    (d / "a.csv").write_text(render(make_sessions(20, A, seed=1), "paper"))
    (d / "b.csv").write_text(render(make_sessions(20, B, seed=2), "airtel"))
    (d / "truth.csv").write_text(f"a,b,kind\n{A},{B},friend\n")
    (d / "scenario.json").write_text('{"seed": 1, "start": "2023-04-17"}\n')
    (d / "README.md").write_text("# Case 42\n\nExports as delivered, 17 April 2023.\n")
    (d / "request.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    return d


def test_folder_with_non_dump_files_loads_every_dump_and_lists_the_rest(capsys, tmp_path):
    d = _case_folder(tmp_path)
    ws = tmp_path / "ws"
    code, out, err = run_cli(capsys, "-w", str(ws), "ingest", str(d))
    assert code == 0, err
    assert err.splitlines() == [
        str(d / "README.md"), f"  skipped (not a dump): unsupported file type .md {SKIP_SUFFIX}",
        str(d / "request.pdf"), f"  skipped (not a dump): unsupported file type .pdf {SKIP_SUFFIX}",
        str(d / "scenario.json"), f"  skipped (not a dump): unsupported file type .json {SKIP_SUFFIX}",
        str(d / "truth.csv"), "  skipped (not a dump): no phone-number or time column (header 'a,b,kind')",
    ]
    assert out.splitlines()[-1] == (f"2 dump(s) loaded (40 sessions, 0 rejected rows), 0 unchanged, 0 refused, "
                                    f"4 skipped (not dumps), 0 failed; workspace {ws}")


def test_dump_like_files_in_the_folder_are_still_refused_or_failed(capsys, tmp_path):
    d = _case_folder(tmp_path)
    # Tabular with a phone-number column but no layout fits: an export to map, not a note.
    (d / "odd.csv").write_text(f"MSISDN,Foo,Bar\n{A},1,2\n")
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(d))
    assert code == 0, err
    assert f"{d / 'odd.csv'}\n  refused (unknown layout): no recognisable header in the first 200 lines" in err
    assert err.splitlines()[-1].startswith("hint: pass a mapping file with --layout FILE")
    # A known layout's header whose dates cannot be read: a failure, and the run fails.
    (d / "c.csv").write_text(render(make_sessions(20, C, seed=3, start="2023-04-07 00:00:00"), "paper"))
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws2"), "ingest", str(d))
    assert code == 1
    assert "0 refused" not in out and ", 1 failed; " in out.splitlines()[-1]
    assert f"error: {d / 'c.csv'}: cannot tell day-first from month-first" in err


def test_a_named_file_that_is_no_dump_is_still_refused(capsys, tmp_path):
    p = tmp_path / "truth.csv"
    p.write_text(f"a,b,kind\n{A},{B},friend\n")
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1 and err.startswith(f"{p}\n  refused (unknown layout): no recognisable header")
