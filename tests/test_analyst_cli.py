"""Analyst experience (issue 15): plain installs, per-subscriber trends, per-day weekday charts,
numbers for people, the store line, --quiet anywhere. Exit codes and the exact lines a user sees."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdrnet.analysis import display, trends
from cdrnet.analysis.cousage import LinkParams
from cdrnet.analysis.pair_report import pair_report
from cdrnet.analysis.profile import build_profile, profile_text
from cdrnet.cli import cli
from cdrnet.cli.common import run_guarded
from cdrnet.synth.writers import render
from tests.conftest import ingest, make_sessions, run_cli
from tests.helpers import frame, sess

ROOT = Path(__file__).resolve().parents[1]
A, B = "919876543210", "919812345678"
TELEGRAM_IPS = ["91.108.4.10", "2001:b28:f23d::a"]
NO_PASSWORD = "error: no Neo4j password: set NEO4J_PASSWORD (cdrnet never takes it on the command line)"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """A workspace with A (on Telegram) and B (never on Telegram), all on 7 April 2023 (IST)."""
    a = make_sessions(60, A, seed=1, start="2023-04-07 00:00:00")
    b = make_sessions(60, B, seed=2, start="2023-04-07 00:00:00")
    b = b[~b["dest_ip"].isin(TELEGRAM_IPS)]
    (tmp_path / "a.csv").write_text(render(a, "paper"))
    (tmp_path / "b.csv").write_text(render(b, "paper"))
    from cdrnet.workspace import Workspace

    ws = Workspace(tmp_path / "ws").create()
    ingest(ws, tmp_path / "a.csv", tmp_path / "b.csv", date_order="dmy")  # 07/04: ambiguous, stated day-first
    return ws.root


def store_line(ws: Path) -> str:
    return f"store: workspace {ws.resolve()}"


# --- 1. plain install -------------------------------------------------------------------------

def _optional(tree: ast.AST) -> set[int]:
    """Ids of import nodes inside ``try: ... except ImportError`` (an optional extra, with a fallback)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _third_party_imports() -> set[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    found: set[str] = set()
    for folder in set(cfg.values()):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            optional = _optional(tree)
            for node in ast.walk(tree):
                if id(node) in optional:
                    continue
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"cdrnet", "bench", "__future__"}


def test_every_import_of_the_package_is_a_runtime_dependency():
    """Lazy imports included: a command must not need a test extra (dnslib, hypothesis, selenium...)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower().replace("-", "_") for d in project["dependencies"]}
    dist_of = {"yaml": "pyyaml"}
    missing = sorted(m for m in _third_party_imports() if dist_of.get(m, m).lower() not in declared)
    assert missing == [], f"imported but not in [project] dependencies: {missing}"


def test_profile_runs_with_test_extras_blocked(case, tmp_path):
    """cdrnet profile once died with ModuleNotFoundError: dnslib on a plain install."""
    blocked = ("dnslib", "hypothesis", "selenium", "pytest", "_pytest")
    code = (f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
            "from cdrnet.cli import main\n"
            f"sys.argv = ['cdrnet', '-q', '-w', {str(case)!r}, 'profile', {A!r}, '--out', {str(tmp_path / 'p')!r}]\n"
            "main()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:2] == [store_line(case), f"Profile of {A}"]


def test_smoke_script_is_called_by_the_test_command():
    assert "scripts/smoke-plain-install" in (ROOT / "scripts" / "test").read_text()
    assert (ROOT / "scripts" / "smoke-plain-install").stat().st_mode & 0o111


# --- 5. store line, --workspace over NEO4J_URI, --quiet after the command ----------------------

def test_first_line_of_every_store_command_names_the_store(case, capsys, tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text(f"a,b\n{A},{B}\n")
    ws = str(case)
    runs = [["dumps"], ["link"], ["profile", A], ["trends", A], ["pair", A, B], ["evidence", A, B],
            ["map", "--out", str(tmp_path / "m.html")], ["evaluate", "--truth", str(truth), str(case / "edges.csv")]]
    for args in runs:
        code, out, err = run_cli(capsys, "-w", ws, *args)
        assert code == 0, (args, err)
        assert out.splitlines()[0] == store_line(case), args


def test_pair_of_files_says_it_uses_no_store(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(render(make_sessions(20, A, seed=1), "paper"))
    b.write_text(render(make_sessions(20, B, seed=2), "paper"))
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "pair", str(a), str(b))
    assert code == 0, err
    assert out.splitlines()[0] == (f"store: none (reading {a} and {b} directly; outputs in "
                                   f"{(tmp_path / 'ws').resolve()})")
    assert (tmp_path / "ws" / "pairs" / f"pair_{A}_{B}.csv").is_file()


def test_quiet_is_accepted_after_the_subcommand(case, capsys):
    for args in (["dumps", "--quiet"], ["link", "-q"], ["trends", A, "--quiet"]):
        capsys.readouterr()
        assert run_guarded(cli, ["-w", str(case), *args]) == 0, capsys.readouterr().err
    assert "--quiet" in subprocess.run([sys.executable, "-m", "cdrnet", "profile", "--help"],
                                       capture_output=True, text=True, check=True).stdout


def test_explicit_workspace_wins_over_neo4j_uri_in_the_environment(case, capsys, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", "bolt://neo4j:secret@127.0.0.1:9")
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    code, out, err = run_cli(capsys, "-w", str(case), "dumps")
    assert code == 0, err
    assert out.splitlines()[0] == store_line(case) and "2 dump(s)" in out
    # Without --workspace the environment's Neo4j is used, and the first line says so (no credentials).
    monkeypatch.setenv("CDRNET_WORKSPACE", str(case))
    code, out, err = run_cli(capsys, "dumps")
    assert code == 1
    assert out.splitlines() == [f"store: Neo4j bolt://127.0.0.1:9 (outputs in {case.resolve()})"]
    assert err.splitlines()[0] == NO_PASSWORD


# --- 2. trends per subscriber -------------------------------------------------------------------

def test_second_subscriber_does_not_overwrite_the_first(case, capsys):
    out_dir = case / "trends"
    code, _, err = run_cli(capsys, "-w", str(case), "trends", A)
    assert code == 0, err
    first = (out_dir / f"trends_{A}_WhatsApp_connections.csv").read_text()
    code, _, err = run_cli(capsys, "-w", str(case), "trends", B)
    assert code == 0, err
    assert (out_dir / f"trends_{A}_WhatsApp_connections.csv").read_text() == first
    a = pd.read_csv(out_dir / f"trends_{A}_WhatsApp_connections.csv", dtype=str)
    b = pd.read_csv(out_dir / f"trends_{B}_WhatsApp_connections.csv", dtype=str)
    assert set(a["number"]) == {A} and set(b["number"]) == {B}
    assert not list(out_dir.glob("trends_WhatsApp_*"))


def test_trends_pseudonymized_names_files_by_token(case, capsys, monkeypatch):
    monkeypatch.setenv("CDRNET_PSEUDONYM_KEY", "k" * 32)
    from cdrnet.pseudonym import pseudonymizer

    tok = pseudonymizer("msisdn")(A)
    code, out, err = run_cli(capsys, "-w", str(case), "trends", A, "--pseudonymize", "--out", str(case / "shared"))
    assert code == 0, err
    files = sorted((case / "shared").iterdir())
    assert files and all(p.name.startswith(f"trends_{tok}_WhatsApp_") for p in files)
    assert A not in out
    for p in files:
        if p.suffix in (".csv", ".txt"):
            assert A not in p.read_text(), p.name


# --- 4. nothing to draw, unknown --app ----------------------------------------------------------

def test_unknown_app_lists_the_known_ones(case, capsys):
    code, out, err = run_cli(capsys, "-w", str(case), "trends", A, "--app", "Signal")
    assert code == 1
    assert err == ("error: no sessions of an application matching 'Signal'; applications in this case: "
                   "Apple Push (APNs), DNS, Google FCM push, Meta (WhatsApp/Facebook/Instagram), Telegram, WhatsApp\n")


def test_chart_with_nothing_to_draw_is_not_written(case, capsys):
    note = f"{B}: no Telegram sessions between 07/04/2023 and 07/04/2023; no CSV or chart written for this number"
    code, out, err = run_cli(capsys, "-w", str(case), "trends", B, "--app", "Telegram")
    assert code == 1
    assert out.splitlines() == [store_line(case), note]
    assert err == "error: nothing to write: no Telegram sessions for the selected number(s)\n"
    assert not list((case / "trends").glob(f"*{B}*"))
    code, out, err = run_cli(capsys, "-w", str(case), "trends", A, B, "--app", "Telegram")
    assert code == 0, err
    assert note in out.splitlines()
    assert (case / "trends" / f"trends_{A}_Telegram_weekday.png").exists()
    assert not list((case / "trends").glob(f"*{B}*"))


# --- 3. day-of-week per observed day ------------------------------------------------------------

def test_weekday_chart_counts_per_observed_day(tmp_path, monkeypatch):
    """7 to 21 March 2024 holds 3 Thursdays and 2 of every other weekday: equal daily use must draw flat."""
    days = pd.date_range("2024-03-07", "2024-03-21", freq="D")  # Thu .. Thu
    rows = [sess(A, f"{d:%Y-%m-%d} 06:00:00", "wa") for d in days]
    rows += [sess(A, f"{d:%Y-%m-%d} 07:00:00", "wa") for d in days if d.day_of_week == 0]  # Mondays twice
    rows.append(sess(A, "2024-03-22 06:00:00", "web"))  # a third Friday, observed without WhatsApp
    f = frame(rows)
    drawn: dict[str, tuple[str, list[float]]] = {}

    def capture(plt, fig, path):
        ax = fig.axes[0]
        drawn[path.name] = (ax.get_title(), [p.get_height() for p in ax.patches])
        plt.close(fig)
        return path

    from cdrnet.viz import charts

    monkeypatch.setattr(charts, "_save", capture)
    trends.write_trends(f, [A], tmp_path, "WhatsApp", "Asia/Kolkata")
    table = pd.read_csv(tmp_path / f"trends_{A}_WhatsApp_weekday.csv")
    assert table["connections"].tolist() == [4, 2, 2, 3, 2, 2, 2]
    assert table["observed_days"].tolist() == [2, 2, 2, 3, 3, 2, 2]
    expected = [2.0, 1.0, 1.0, 1.0, 2 / 3, 1.0, 1.0]
    assert np.allclose(table["connections_per_day"], expected, atol=1e-3)
    title, heights = drawn[f"trends_{A}_WhatsApp_weekday.png"]
    assert np.allclose(heights, expected)
    assert int(np.argmax(heights)) == 0  # Monday is the peak, not Thursday
    period = "07 Mar 2024 to 22 Mar 2024 (16 days, times in Asia/Kolkata)"
    for name in ("weekday", "hour", "heatmap"):
        assert drawn[f"trends_{A}_WhatsApp_{name}.png"][0].endswith(period), name
    assert (tmp_path / f"trends_{A}_WhatsApp_connections.txt").read_text().splitlines()[-1] == (
        "This number was on WhatsApp 17 times over 15 day(s) between 07/03/2024 and 22/03/2024 "
        "(times in Asia/Kolkata).")


def test_weekday_never_observed_has_no_rate():
    p = trends.Period(pd.Timestamp("2024-03-07").date(), pd.Timestamp("2024-03-08").date(), "UTC")  # Thu, Fri
    t = trends.weekday_table(frame([sess(A, "2024-03-07 06:00:00")]), p)
    assert t["observed_days"].tolist() == [0, 0, 0, 1, 1, 0, 0]
    assert t["connections_per_day"].isna().tolist() == [True, True, True, False, False, True, True]


# --- 6. numbers for people ----------------------------------------------------------------------

def test_display_units():
    v = display.volumes(pd.Series([0, 999, 1000, 1_600_000, 2_500_000_000, None], dtype="Float64"))
    assert v.tolist() == ["0 B", "999 B", "1.0 kB", "1.6 MB", "2.5 GB", "n/a"]
    assert display.ports(pd.Series([443.0, np.nan, 5222])).tolist() == ["443", "n/a", "5222"]
    assert display.counts(pd.Series([1234567, None])).tolist() == ["1,234,567", "n/a"]


def test_profile_text_for_people_jio_without_volumes():
    rows = [sess(A, f"2024-01-01 {h:02d}:{m:02d}:00", "wa", up=None, down=None)
            for h in range(24) for m in range(0, 60, 1)][:1205]
    f = frame(rows)
    f["dest_port"] = f["dest_port"].astype("float64")  # how a layout with blank ports arrives
    f.loc[f.index[:5], "dest_port"] = np.nan
    text = profile_text(build_profile(f, A, "Asia/Kolkata"))
    assert "sessions: 1,205;" in text
    apps = text.split("Application usage (Table III)\n")[1].split("\n\n")[0].splitlines()
    assert apps[0].split() == ["application", "vendor", "frequency", "usage_percent", "volume", "active_days"]
    assert apps[1].split() == ["WhatsApp", "Meta", "1,205", "100.00", "n/a", "2"]  # 2 IST days
    dest = text.split("Top destinations\n")[1].splitlines()
    assert dest[1].split()[:2] == ["157.240.1.1", "5222"] and dest[1].split()[-1] == "1,200"
    assert "443.0" not in text and "5222.0" not in text and "<NA>" not in text and "nan" not in text
    with_volume = frame([sess(A, "2024-01-01 06:00:00", up=600_000, down=1_000_000)])
    assert "1.6 MB" in profile_text(build_profile(with_volume, A))


def test_pair_text_integer_ports_and_na():
    rows = [sess(A, "2024-01-01 04:30:00"), sess(B, "2024-01-01 04:31:00"), sess(A, "2024-01-01 05:00:00", "tg"),
            sess(B, "2024-01-01 05:00:30", "tg")]
    f = frame(rows)
    f["dest_port"] = f["dest_port"].astype("float64")
    f.loc[f["app"] == "Telegram", "dest_port"] = np.nan
    text = pair_report(f, A, B, LinkParams(), tz="Asia/Kolkata").text()
    lines = text.splitlines()
    assert any(line.startswith("WhatsApp\t5222\t") for line in lines)
    assert any(line.startswith("Telegram\tn/a\t") for line in lines)
    assert "5222.0" not in text and "<NA>" not in text
