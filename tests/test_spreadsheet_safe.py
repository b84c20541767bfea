"""Issue 19, class 6: no CSV cdrnet writes holds a cell a spreadsheet would run as a formula.

A full run over hostile input (application names, vendors, cell ids and junk lines that start
with =, @, +, - or a tab) writes every kind of CSV; each cell of each one is checked.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from cdrnet.csvsafe import PLAIN_NUMBER, csv_text, escape_cell_text
from cdrnet.synth.writers import PAPER_HEADER
from tests.conftest import run_cli

A, B = "919812345001", "919812345002"
HOSTILE_APP = "=HYPERLINK(\"http://198.51.100.7/x\",\"open\")"
HOSTILE_VENDOR = "@SUM(1+1)*cmd|' /C calc'!A0"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def risky_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would evaluate: starting with a formula character and not a plain number."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            out += [c for c in row if c.startswith(FORMULA_START) and not re.fullmatch(PLAIN_NUMBER, c)]
    return out


def _row(msisdn: str, t: pd.Timestamp, cell: str) -> str:
    end = t + pd.Timedelta(seconds=20)
    return ",".join(["10.0.0.1", "40000", "100.64.0.1", "50000", "203.0.113.9", "5222", msisdn, "404701234567890",
                     t.strftime("%d/%m/%Y"), t.strftime("%H:%M:%S"), end.strftime("%d/%m/%Y"), end.strftime("%H:%M:%S"),
                     "353456012345670", cell, "100", "200", "300", "4G"])


@pytest.fixture
def hostile_case(tmp_path: Path) -> Path:
    """Two subscribers chatting on an app with a formula for a name, in cells named like formulas,
    with junk lines that look like formulas."""
    sig = tmp_path / "sig.csv"
    sig.write_text("app,vendor,category,proto,ports,prefixes,valid_from,valid_to,confidence,source\n"
                   f'"{HOSTILE_APP.replace(chr(34), chr(34) * 2)}","{HOSTILE_VENDOR}",messaging,tcp,5222,'
                   '203.0.113.0/24,,,high,"-2+3 test"\n')
    folder = tmp_path / "dumps"
    folder.mkdir()
    t0 = pd.Timestamp("2023-04-17 09:00:00")
    for k, m in enumerate((A, B)):
        rows = [_row(m, t0 + pd.Timedelta(hours=3 * i + d * 24, seconds=17 * k), "@cell-" + str(i % 2))
                for d in range(4) for i in range(6)]
        rows += ["=1+2,=cmd|' /C calc'!A0", "@SUM(A1:A9)", "+1+1,x", "-2+3,y", "\t=1+1,z"]
        (folder / f"{m}.csv").write_text("\n".join([",".join(PAPER_HEADER), *rows]) + "\n")
    return tmp_path


def test_every_csv_of_a_full_run_over_hostile_input_is_safe(hostile_case, capsys):
    root = hostile_case
    ws = str(root / "ws")
    sig = str(root / "sig.csv")
    code, out, err = run_cli(capsys, "-w", ws, "ingest", "--date-order", "dmy", "--extra-signatures", sig,
                             str(root / "dumps"))
    assert code == 0, err
    for args in (["link"], ["evidence", A, B], ["pair", A, B], ["profile", A], ["trends", A, "--app", "HYPERLINK"],
                 ["trends", "--app", "HYPERLINK"], ["signatures", "--unknown", "--csv"]):
        code, out, err = run_cli(capsys, "-w", ws, *args)
        assert code == 0, (args, err)
    csvs = sorted(Path(ws).rglob("*.csv"))
    kinds = {p.parent.name if p.parent != Path(ws) else p.stem for p in csvs}
    assert {"edges", "rejects", "evidence", "pairs", "profiles", "trends"} <= kinds, kinds
    for p in csvs:
        assert risky_cells(p) == [], p
    # The hostile values are there, escaped, not dropped.
    rejects = pd.read_csv(Path(ws) / "rejects.csv", dtype=str)
    assert "'=1+2,=cmd|' /C calc'!A0" in set(rejects["raw"]) and "'@SUM(A1:A9)" in set(rejects["raw"])
    edges = pd.read_csv(Path(ws) / "edges.csv", dtype={"a": str, "b": str})
    assert edges.loc[0, "services"] == f"'{HOSTILE_VENDOR}=24"  # services are named by vendor
    assert pd.api.types.is_float_dtype(edges["score"]) and edges.loc[0, "link"]
    evidence = pd.read_csv(next((Path(ws) / "evidence").glob("*.csv")), dtype=str)
    assert set(evidence["key"]) == {"'@CELL-0", "'@CELL-1", f"'{HOSTILE_VENDOR}"}
    apps = pd.read_csv(Path(ws) / "profiles" / f"profile_{A}_apps.csv", dtype=str)
    assert f"'{HOSTILE_APP}" in set(apps["application"])


def test_escaping_leaves_numbers_and_identifiers_alone():
    frame = pd.DataFrame({"text": ["=1+2", "@x", "+1+1", "-2+3", "\tx", "\rx", "-5", "-0.25", "+919812345678",
                                   "1e-5", "ok", ""],
                          "delta": [-1.5, -2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                          "n": pd.array([-1, None, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], dtype="Int64")})
    text = csv_text(frame)
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype={"text": str})
    assert back["text"].tolist() == ["'=1+2", "'@x", "'+1+1", "'-2+3", "'\tx", "'\rx", "-5", "-0.25", "+919812345678",
                                     "1e-5", "ok", ""]
    assert back["delta"].tolist() == [-1.5, -2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    lines = text.splitlines()
    assert lines[0] == '"text","delta","n"' and lines[1] == '"\'=1+2",-1.5,-1'
    same = pd.Series(["a", "b"], dtype="string")
    assert escape_cell_text(same) is same  # nothing to escape: the column is returned untouched
