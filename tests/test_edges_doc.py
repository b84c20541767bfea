"""Every column of edges.csv and every key of edges.json is explained in docs/co-usage.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "co-usage.md"


def documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- edges-columns:begin -->", 1)[1].split("<!-- edges-columns:end -->", 1)[0]
    return set(re.findall(r"`([a-z_]+)`", section))


@pytest.fixture(scope="module")
def linked(tmp_path_factory) -> Path:
    from cdrnet.cli import cli
    from cdrnet.cli.common import run_guarded

    tmp = tmp_path_factory.mktemp("edges-doc")
    assert run_guarded(cli, ["-q", "simulate", str(tmp / "sim"), "--subscribers", "6", "--days", "4", "--layout", "jio",
                             "--seed", "5"]) == 0
    assert run_guarded(cli, ["-q", "-w", str(tmp / "ws"), "ingest", str(tmp / "sim" / "dumps")]) == 0
    assert run_guarded(cli, ["-q", "-w", str(tmp / "ws"), "link"]) == 0
    return tmp / "ws"


def test_every_edges_csv_column_is_documented(linked: Path) -> None:
    header = list(pd.read_csv(linked / "edges.csv", nrows=0).columns)
    assert len(header) > 20
    missing = [c for c in header if c not in documented()]
    assert not missing, f"columns of edges.csv missing from docs/co-usage.md: {missing}"


def test_every_edges_json_key_is_documented(linked: Path) -> None:
    meta = json.loads((linked / "edges.json").read_text(encoding="utf-8"))
    keys = [*meta, *meta["params"]]
    missing = [k for k in keys if k not in documented()]
    assert not missing, f"keys of edges.json missing from docs/co-usage.md: {missing}"


def test_the_documented_set_is_the_table_only() -> None:
    # The checks above can fail: only names in the marked section count, not the whole page.
    names = documented()
    assert "score" in names and "first_utc" in names
    assert "not_a_column" not in names and "null" not in names
