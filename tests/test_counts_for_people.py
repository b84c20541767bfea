"""Counts an analyst reads carry thousands separators in ingest, dumps and link (issue 15, numbers for people)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    from cdrnet.cli import cli
    from cdrnet.cli.common import run_guarded

    tmp = tmp_path_factory.mktemp("counts")
    assert run_guarded(cli, ["-q", "simulate", str(tmp / "sim"), "--subscribers", "4", "--days", "5", "--layout",
                             "jio", "--seed", "2"]) == 0
    return tmp / "sim" / "dumps"


def test_ingest_dumps_and_link_print_counts_with_separators(sim: Path, tmp_path: Path, capsys) -> None:
    ws = str(tmp_path / "ws")
    code, out, err = run_cli(capsys, "-w", ws, "ingest", str(sim))
    assert code == 0, err
    total = re.search(r"4 dump\(s\) loaded \((\S+) sessions, 0 rejected rows\)", out).group(1)
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", total), total  # more than 999 sessions, written 1,234
    per_dump = [int(n.replace(",", "")) for n in re.findall(r"  lines \S+ = loaded (\S+) \+ rejected 0", out)]
    assert sum(per_dump) == int(total.replace(",", "")) and len(per_dump) == 4
    code, out, _ = run_cli(capsys, "-w", ws, "dumps")
    assert code == 0 and out.splitlines()[-1] == f"4 dump(s), {total} sessions"
    code, out, _ = run_cli(capsys, "-w", ws, "link")
    assert code == 0 and f"4 subscribers, {total} sessions; window 180s (start)" in out
