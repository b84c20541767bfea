"""Evidence trail, pseudonyms, escaping and credentials."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from tests.conftest import run_cli

KEY = "a-long-secret-key-for-tests-only"


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    root = tmp_path_factory.mktemp("ev")
    simulate(build_scenario("easy", subscribers=12, days=5, seed=2), root / "case")
    from cdrnet.cli import cli
    from cdrnet.cli.common import run_guarded

    ws = str(root / "ws")
    assert run_guarded(cli, ["-q", "-w", ws, "ingest", "--date-order", "dmy", str(root / "case" / "dumps")]) == 0
    assert run_guarded(cli, ["-q", "-w", ws, "link"]) == 0
    edges = pd.read_csv(root / "ws" / "edges.csv", dtype={"a": str, "b": str})
    return root, ws, edges[edges["link"]].iloc[0]


def test_evidence_rows_point_at_original_lines(linked, capsys):
    root, ws, top = linked
    code, out, err = run_cli(capsys, "-w", ws, "evidence", top["a"], top["b"], "--out", str(root / "ev"))
    assert code == 0, err
    events = pd.read_csv(root / "ev" / f"evidence_{top['a']}_{top['b']}.csv", dtype=str)
    assert len(events) == int(top["messaging_obs"]) + int(top["call_obs"]) + int(top["coloc_obs"])
    for side in ("a", "b"):
        for r in events.head(20).itertuples():
            path, line = getattr(r, f"{side}_file"), int(getattr(r, f"{side}_line"))
            raw = Path(path).read_text().splitlines()[line - 1].split(",")
            assert raw[6] == getattr(r, side)  # MSISDN column of the paper layout
            import hashlib

            assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == getattr(r, f"{side}_sha256")
    page = (root / "ev" / f"evidence_{top['a']}_{top['b']}.html").read_text()
    assert "Supporting sessions" in page and "window_s" in page


def test_pseudonymized_outputs_are_consistent_and_hide_numbers(linked, capsys, monkeypatch, tmp_path):
    root, ws, top = linked
    code, _, err = run_cli(capsys, "-w", ws, "link", "--pseudonymize", "--out", str(tmp_path / "e.csv"))
    assert code == 1 and "CDRNET_PSEUDONYM_KEY" in err  # no key, no export
    monkeypatch.setenv("CDRNET_PSEUDONYM_KEY", KEY)
    assert run_cli(capsys, "-w", ws, "link", "--pseudonymize", "--out", str(tmp_path / "e.csv"))[0] == 0
    assert run_cli(capsys, "-w", ws, "map", "--pseudonymize", "--out", str(tmp_path / "m.html"))[0] == 0
    assert run_cli(capsys, "-w", ws, "evidence", top["a"], top["b"], "--pseudonymize",
                   "--out", str(tmp_path / "ev"))[0] == 0
    edges = pd.read_csv(tmp_path / "e.csv", dtype=str)
    assert edges["a"].str.match(r"^S-[0-9a-f]{16}$").all()
    page = (tmp_path / "m.html").read_text()
    ev = next((tmp_path / "ev").glob("*.csv")).read_text()
    for text in (edges.to_csv(), page, ev):
        assert not re.search(r"(?<![\d.eE-])91[6-9]\d{9}(?!\d)", text)  # no MSISDN anywhere
    token_a = edges.loc[0, "a"]
    assert token_a in page  # the same person has the same token in every output


def test_password_never_on_command_line_or_in_outputs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cdrnet", "--help"], capture_output=True, text=True).stdout
    assert "--password" not in out and "NEO4J_PASSWORD" in out
    env = {"PATH": "/usr/bin:/bin", "NEO4J_PASSWORD": "s3cret-do-not-print", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "cdrnet", "-w", str(tmp_path / "ws"), "--neo4j", "bolt://127.0.0.1:1",
                        "dumps"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "s3cret" not in r.stdout + r.stderr
    assert not any("s3cret" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


def test_compose_and_local_server_config():
    root = Path(__file__).resolve().parents[1]
    import yaml

    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    svc = compose["services"]["neo4j"]
    assert svc["image"] == "neo4j:5.26-community"
    assert svc["environment"]["NEO4J_AUTH"].startswith("${NEO4J_AUTH:?")  # no default password
    assert all(p.startswith("127.0.0.1:") for p in svc["ports"])
    assert "healthcheck" in svc and set(compose["volumes"]) >= {"neo4j-data", "neo4j-logs"}
    script = (root / "scripts" / "neo4j-local").read_text()
    assert "server.default_listen_address=127.0.0.1" in script
    assert "dbms.security.auth_enabled=true" in script


def test_hostile_text_in_html_reports_is_escaped(tmp_path):
    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.analysis.evidence import Evidence, evidence_html

    hostile = "<script>alert(1)</script>"
    events = pd.DataFrame({"evidence": ["messaging"], "key": [hostile], "a": ["1"], "b": ["2"]})
    page = evidence_html(Evidence("1", "2", LinkParams(apps=[hostile]), None, events), hostile)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
