"""Issue 19, class 8: nothing to do is not an error.

Pinned per command: on an empty workspace, commands that need no number say there is nothing to
do and exit 0; commands naming a subscriber exit 1 with a hint (what was named does not exist).
On a case where no pair has any evidence, link, map, evidence and pair say so and exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cdrnet.synth.writers import write_dump
from tests.conftest import make_sessions, run_cli
from tests.test_summary_report import RELINK_DEFAULTS

A, B = "919812345001", "919812345002"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.mark.parametrize("command,what", [("link", "link"), ("map", "map"), ("trends", "chart"),
                                          ("summary", "summarise"), ("report", "report")])
def test_empty_workspace_nothing_to_do_exit_0(empty, capsys, command, what):
    code, out, err = run_cli(capsys, "-w", str(empty), command)
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"store: workspace {empty.resolve()}",
                                f"nothing to {what}: workspace {empty.resolve()} holds no dumps "
                                "(run 'cdrnet ingest PATH' first)"]
    assert not empty.exists()  # reading an empty case creates nothing


@pytest.mark.parametrize("args", [["evidence", A, B], ["pair", A, B], ["profile", A], ["trends", A]])
def test_empty_workspace_named_subscriber_exit_1_with_hint(empty, capsys, args):
    code, out, err = run_cli(capsys, "-w", str(empty), *args)
    assert code == 1
    assert err.splitlines() == [f"error: workspace {empty} holds no dumps", "hint: run 'cdrnet ingest PATH' first"]


@pytest.fixture
def no_evidence(tmp_path: Path, capsys) -> Path:
    """Two subscribers on different cells using only DNS: no co-usage of any kind."""
    folder = tmp_path / "dumps"
    for k, m in enumerate((A, B)):
        s = pd.concat([make_sessions(30, msisdn=m, seed=k, start="2023-04-17 09:00:00"),
                       make_sessions(30, msisdn=m, seed=k + 5, start="2023-04-18 09:00:00")])
        s["dest_ip"], s["dest_port"], s["cell_id"] = "8.8.8.8", 53, f"404-70-166-1234{k}"
        write_dump(s, "paper", folder / f"{m}.csv")
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", "--date-order", "dmy", str(folder))
    assert code == 0, err
    return ws


def test_link_without_evidence_writes_a_header_only_table(no_evidence, capsys):
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "link")
    assert code == 0, err
    assert "0 pairs with any co-usage; 0 links at FDR 0.05" in out
    assert "no pair has any co-usage evidence: no links (the edges file holds its header only)" in out.splitlines()
    edges = pd.read_csv(no_evidence / "edges.csv")
    assert edges.empty and {"a", "b", "score", "link", "first_utc", "last_utc", "services"} <= set(edges.columns)


def test_map_without_evidence_draws_the_subscribers(no_evidence, capsys):
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "map")
    assert code == 0, err
    assert out.splitlines()[1:] == [RELINK_DEFAULTS,
                                    "no pair has any co-usage evidence: the map shows 2 subscriber(s) and no links",
                                    f"written {no_evidence / 'map.html'}"]
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "map", "--format", "json")
    assert code == 0 and (no_evidence / "map.json").is_file(), err


def test_evidence_and_pair_without_evidence_say_so(no_evidence, capsys):
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "evidence", A, B)
    assert code == 0, err
    assert f"{A} -- {B}: no co-usage, 0 supporting events; not a link (no co-usage episode, FDR 0.05)" in out
    assert pd.read_csv(next((no_evidence / "evidence").glob("*.csv"))).empty
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "pair", A, B)
    assert code == 0, err
    assert "Score 0: no co-usage episode between the two numbers." in out


def test_trends_of_an_app_the_case_lacks_lists_the_known_ones(no_evidence, capsys):
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "trends")
    assert code == 1
    assert err.splitlines() == ["error: no sessions of an application matching 'WhatsApp'; applications in this "
                                "case: DNS"]
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "profile", A)
    assert code == 0, err


def test_summary_and_report_without_evidence_say_so(no_evidence, capsys, tmp_path):
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "summary")
    assert code == 0, err
    assert out.splitlines()[3:5] == [RELINK_DEFAULTS, "no links: no pair has any co-usage evidence (0 pair(s) with "
                                     "any co-usage)"]
    code, out, err = run_cli(capsys, "-w", str(no_evidence), "report", "--xlsx", str(tmp_path / "r.xlsx"))
    assert code == 0 and (tmp_path / "r.xlsx").is_file(), err


def test_a_links_only_network_without_links_is_not_said_to_lack_co_usage(no_evidence, tmp_path, monkeypatch):
    """Neo4j keeps links only: a case whose pairs co-use below the FDR has no edge there, and the
    summary and map said "no pair has any co-usage evidence", which was false."""
    import dataclasses

    from cdrnet.api import Case

    case = Case(workspace=str(no_evidence))
    net = case.network()
    assert net.edges.empty  # the workspace's own: every scored pair, none here
    links_only = dataclasses.replace(net, all_pairs=False)
    monkeypatch.setattr(Case, "network", lambda *_args, **_kwargs: links_only)
    line = case.overview().links_line()
    assert line == "no links: no pair co-uses beyond chance at FDR 0.05 (Neo4j keeps links only)", line
    said: list[str] = []
    case.write_map(tmp_path / "m.html", notify=said.append)
    assert "no pair co-uses beyond chance at FDR 0.05: the map shows 2 subscriber(s) and no links" in said, said
