"""CLI: exit codes and the exact lines a user sees."""

from __future__ import annotations

import subprocess
import sys

from cdrnet.synth.writers import render
from tests.conftest import make_sessions, run_cli


def test_ingest_dumps_and_reingest(capsys, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(render(make_sessions(5), "paper"))
    ws = str(tmp_path / "ws")
    code, out, err = run_cli(capsys, "-w", ws, "ingest", str(p))
    assert code == 0, err
    assert "lines 6 = loaded 5 + rejected 0 + non-data 1" in out
    assert "1 dump(s) loaded (5 sessions, 0 rejected rows), 0 unchanged" in out
    code, out, _ = run_cli(capsys, "-w", ws, "ingest", str(p))
    assert code == 0 and "already loaded" in out and "nothing changed" in out
    code, out, _ = run_cli(capsys, "-w", ws, "dumps")
    assert code == 0 and "paper" in out and "1 dump(s), 5 sessions" in out


def test_unrecognised_file_exits_nonzero_naming_file(capsys, tmp_path):
    p = tmp_path / "mystery.csv"
    p.write_text("foo,bar,baz\n1,2,3\n")
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1
    assert (f"{p}\n  refused (unknown layout): no recognisable header in the first 200 lines (expected one of the "
            f"layouts: airtel, airtel_cdr, airtel_dynamic, airtel_gprs, bsnl_cdr, dot_cdr, dot_ipdr, jio, jio_cdr, "
            f"paper, vi, vi_cdr, vi_gprs)") in err
    assert err.splitlines()[-1].startswith("hint: pass a mapping file with --layout FILE")


def test_missing_path(capsys, tmp_path):
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(tmp_path / "nope.csv"))
    assert code == 1 and err.startswith(f"error: {tmp_path / 'nope.csv'}: no such file or folder")


def test_bad_timezone(capsys, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(render(make_sessions(2), "paper"))
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", "--tz", "Mars/Olympus", str(p))
    assert code == 1 and err.splitlines()[0] == "error: unknown time zone 'Mars/Olympus'"


def test_signatures_command(capsys):
    code, out, _ = run_cli(capsys, "signatures", "--signatures", "paper", "--csv")
    assert code == 0 and out.splitlines()[0].startswith('"tier","app","vendor"')
    assert "Joshi et al., Table II" in out


def test_python_dash_m_and_help():
    out = subprocess.run([sys.executable, "-m", "cdrnet", "ingest", "--help"],
                         capture_output=True, text=True, check=True)
    assert "Examples:" in out.stdout and "--layout" in out.stdout
