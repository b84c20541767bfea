"""The simulator's operator re-sends (cdrnet/synth/resend.py, ``Scenario.resent_dumps``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.synth.resend import CELL_COLUMN, write_resend
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.workspace import Workspace
from tests.conftest import ingest


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, dict]:
    """Every layout of the realistic scenario, each IPDR file sent again. Days after the 12th, so
    each dump's date order is decided from its own dates (Excel's month-first Airtel among them)."""
    root = tmp_path_factory.mktemp("resent")
    summary = simulate(build_scenario("realistic", subscribers=10, days=6, seed=5, start_date="2023-07-13",
                                      resent_dumps=100), root)
    return root, summary


def _split(path: Path) -> tuple[list[str], list[list[str]], list[str]]:
    """A file's lines up to its header, its rows of the header's width, and the lines after them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if len(r := next(csv.reader([line]), [])) > 5
              and any(CELL_COLUMN.search(c) for c in r))
    width = len(next(csv.reader([lines[at]])))
    rows = [next(csv.reader([line]), []) for line in lines[at + 1:]]
    last = max(k for k, r in enumerate(rows) if len(r) == width)
    return lines[: at + 1], [r for r in rows[: last + 1] if len(r) == width], lines[at + 2 + last:]


def test_every_layout_is_resent_with_the_later_rows_and_corrected_cells(case):
    root, summary = case
    resent = summary["resent"]
    layouts = {Path(r["of"]).name.split("_")[0] for r in resent}
    assert {"jio", "airtel", "vi", "paper"} <= layouts
    assert json.loads((root / "scenario.json").read_text())["resent"] == resent
    assert all(r["file"] in summary["files"] for r in resent)
    for r in resent:
        head, rows, tail = _split(root / r["of"])
        head2, rows2, tail2 = _split(root / r["file"])
        assert head2 == head and tail2 == tail, r  # preamble, header and footer as sent first
        names = next(csv.reader([head[-1]]))
        cells = [i for i, c in enumerate(names) if CELL_COLUMN.search(c)]
        later = rows[len(rows) // 2:]
        assert len(rows2) == len(later)
        differ = 0
        for a, b in zip(later, rows2, strict=True):
            assert [v for i, v in enumerate(a) if i not in cells] == [v for i, v in enumerate(b) if i not in cells]
            differ += [a[i] for i in cells] != [b[i] for i in cells]
        assert differ == r["cells_changed"] > 0


def test_a_resent_dump_adds_no_session_and_keeps_the_first_copy(case, tmp_path):
    """Ingested after their first delivery, every re-sent session is an overlap: the case holds the
    sessions it held without the re-sends, each the first dump's copy (its cell)."""
    root, summary = case
    ws = Workspace(tmp_path / "ws").create()
    res = ingest(ws, root / "dumps")
    by_name = {Path(r.name).name: r for r in res.loaded}
    for r in summary["resent"]:
        rep = by_name[Path(r["file"]).name]
        assert rep.loaded > 0 and rep.duplicates_of_other_dumps == rep.loaded and not rep.rejected_total, rep.name
    plain = Workspace(tmp_path / "plain").create()
    firsts = [root / f for f in summary["files"] if "_resent" not in f]
    ingest(plain, *firsts)
    cols = ["session_key", "cell_id", "dump_sha256", "source_line"]
    with_resends = ws.sessions()[cols].sort_values("session_key").reset_index(drop=True)
    without = plain.sessions()[cols].sort_values("session_key").reset_index(drop=True)
    assert with_resends.equals(without)
    every = ws.sessions(dedupe=False)
    assert every.groupby("session_key")["cell_id"].nunique(dropna=False).gt(1).sum() > 10


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["", "c1", "c2", "c3"]), st.text("ab,\" ", max_size=4)),
                     min_size=0, max_size=30),
       share=st.sampled_from([0.0, 0.25, 0.5, 0.99]), every=st.integers(1, 5), blank=st.integers(0, 4))
def test_write_resend_changes_only_the_cell_columns_of_the_rows_it_keeps(tmp_path_factory, rows, share, every,
                                                                         blank):
    folder = tmp_path_factory.mktemp("w")
    src, dest = folder / "a.csv", folder / "b.csv"
    header = ["MSISDN", "A", "B", "C", "CELL_ID", "NOTE", "Cell Name"]
    with open(src, "w", encoding="utf-8", newline="") as fh:
        fh.write("Input Value (MSISDN/CELL ID) :,9190\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for n, (cell, note) in enumerate(rows):
            w.writerow(["9190", str(n), "x", "y", cell, note, f"name of {cell}"])
        fh.write("*** END OF REPORT ***\n")
    changed = write_resend(src, dest, from_share=share, every=every, blank_every=blank)
    if not rows:
        assert changed == 0 and not dest.exists()
        return
    head, kept, tail = _split(dest)
    assert head == ["Input Value (MSISDN/CELL ID) :,9190", ",".join(header)] and tail == ["*** END OF REPORT ***"]
    start = int(len(rows) * share) if rows else 0
    assert [r[1] for r in kept] == [str(n) for n in range(start, len(rows))]
    assert [r[5] for r in kept] == [note for _, note in rows[start:]]
    differ = sum([r[4], r[6]] != [c, f"name of {c}"] for r, (c, _) in zip(kept, rows[start:], strict=True))
    assert differ == changed
    # A changed row takes another row's cell and name together, or none.
    assert all(r[6] == (f"name of {r[4]}" if r[4] or r[6] else "") for r in kept)


def test_simulate_command_names_the_resent_files(tmp_path, capsys):
    from tests.conftest import run_cli

    code, out, err = run_cli(capsys, "simulate", str(tmp_path / "case"), "--scenario", "realistic", "--subscribers",
                             "6", "--days", "3", "--set", "resent_dumps=2")
    assert code == 0, err
    saved = json.loads((tmp_path / "case" / "scenario.json").read_text())
    names = [Path(r["file"]).name for r in saved["resent"]]
    fixed = sum(r["cells_changed"] for r in saved["resent"])
    assert len(names) == 2 and all((tmp_path / "case" / "dumps" / n).exists() for n in names)
    assert f"re-sent: 2 file(s) sent again with {fixed} corrected cell(s): {', '.join(names)}" in out.splitlines()
    assert saved["scenario"]["resent_dumps"] == 2
    # Without re-sends, scenario.json names no such parameter (the bytes it always had).
    assert "resent_dumps" not in build_scenario("realistic").to_dict()


def test_ingest_says_how_many_loaded_sessions_other_dumps_delivered_too(case, tmp_path, capsys):
    """The ingest's total counts a re-sent session in each dump that delivers it; the line says how
    many of them other dumps delivered too (it read as if the case held that many sessions)."""
    from tests.conftest import run_cli

    root, _ = case
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(root / "dumps"))
    assert code == 0, err
    reports = Workspace(tmp_path / "ws").reports()
    again = sum(r.duplicates_of_other_dumps for r in reports)
    total = sum(r.loaded for r in reports if r.kind == "sessions")
    assert again > 0
    assert f"dump(s) loaded ({total:,} sessions, {again:,} of them also in other dumps, 0 rejected rows)" in out
