"""`cdrnet demo`: the quick start's main job on the embedded workspace, its lines as a person reads them."""

from __future__ import annotations

import re

from tests.conftest import run_cli


def test_the_demo_runs_the_main_job_and_counts_with_thousands_separators(capsys, tmp_path):
    code, out, err = run_cli(capsys, "-q", "demo", str(tmp_path / "demo"))
    assert code == 0, err
    lines = out.splitlines()
    simulated = next(x for x in lines if x.startswith("1. simulated "))
    ingested = next(x for x in lines if x.startswith("2. ingested "))
    assert re.match(r"1\. simulated \d{1,3}(,\d{3})+ sessions of 40 subscribers", simulated), simulated
    assert re.match(r"2\. ingested 40 dumps \(\d{1,3}(,\d{3})+ new sessions\)", ingested), ingested
    assert simulated.split()[2] == ingested.split("(")[1].split()[0]  # every simulated session loaded
    assert (tmp_path / "demo" / "map.html").is_file() and (tmp_path / "demo" / "edges.csv").is_file()
