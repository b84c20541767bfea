"""Issue 15 on Neo4j: summary, report, map and evidence draw the case's latest link run (its CO_USED
links and the parameters on its LinkRun node), or say that they re-link and with what."""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook

from tests.conftest import run_cli
from tests.neo4j_fixtures import PASSWORD, URI
from tests.test_summary_report import RELINK_DEFAULTS, RUN_LINE, A, B, C, case_files

pytestmark = pytest.mark.neo4j
CASE = "ws"


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if not line.startswith("store: ")]


def test_outputs_on_neo4j_use_the_stored_link_run(graph, driver, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    env = ["-w", str(tmp_path / "ws"), "--neo4j", URI]
    code, out, err = run_cli(capsys, *env, "ingest", *map(str, case_files(tmp_path / "in")))
    assert code == 0, err
    code, out, err = run_cli(capsys, *env, "summary")
    assert code == 0, err
    assert _lines(out)[2:4] == [RELINK_DEFAULTS, "3 pair(s) with any co-usage; 1 link(s) at FDR 0.05"]

    assert run_cli(capsys, *env, "link", "--window", "120")[0] == 0
    run = driver.execute_query("MATCH (r:LinkRun {case: 'ws'}) RETURN properties(r) AS p").records
    assert len(run) == 1
    props = run[0]["p"]
    assert (props["window_s"], props["min_events"], props["calls"], props["colocation"]) == (120, 2, True, True)
    q = driver.execute_query("MATCH ()-[e:CO_USED {case: 'ws'}]->() RETURN e.q_value AS q").records[0]["q"]

    code, out, err = run_cli(capsys, *env, "summary")
    assert code == 0, err
    lines = _lines(out)
    assert RUN_LINE.fullmatch(lines[2]).group(1) == "window 120s (start), episode gap 120s, FDR 0.05"
    assert lines[3] == "Neo4j keeps links only; 1 link(s) at FDR 0.05"
    assert lines[-1] == f"written {tmp_path / 'ws' / 'summary.html'}"
    code, out, err = run_cli(capsys, *env, "map")
    assert code == 0 and RUN_LINE.fullmatch(_lines(out)[0]), err

    code, out, err = run_cli(capsys, *env, "evidence", A, B)
    assert code == 0, err
    assert f"a link (q = {q:.3g}, FDR 0.05, link = True)" in out
    code, out, err = run_cli(capsys, *env, "evidence", A, C)
    assert code == 0, err
    why = "not among the links of the case's latest link run, FDR 0.05; its q-value is not kept"
    assert _lines(out)[1].endswith(f"not a link ({why})")
    page = (tmp_path / "ws" / "evidence" / f"evidence_{C}_{A}.html").read_text()
    assert f"<h1>Evidence for the pair {C} -- {A} (not a link: {why.replace(chr(39), '&#x27;')})</h1>" in page

    code, out, err = run_cli(capsys, *env, "report", "--xlsx", str(tmp_path / "r.xlsx"))
    assert code == 0, err
    wb = load_workbook(tmp_path / "r.xlsx")
    links = list(wb["Links"].iter_rows(min_row=2, values_only=True))
    assert len(links) == 1 and links[0][0] == B and links[0][2] == A and links[0][4] is True
    assert wb["Evidence"].max_row - 1 == links[0][-1] > 0
    assert re.search(r"Neo4j bolt://127\.0\.0\.1:\d+ \(case 'ws'\)", wb["Summary"]["B3"].value)
