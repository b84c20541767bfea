"""Shared fixtures: generated sessions (never real subscriber data) and helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from cdrnet.cli import cli
from cdrnet.cli.common import run_guarded
from cdrnet.loader.ingest import ingest_paths
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.loader.normalize import Options
from cdrnet.loader.signatures import load_signatures
from cdrnet.workspace import Workspace

DESTS = [
    ("157.240.1.52", 443), ("157.240.1.52", 5222), ("91.108.4.10", 443), ("142.250.1.1", 5228),
    ("2a03:2880:f00c::1", 443), ("17.1.2.3", 5223), ("2001:b28:f23d::a", 443), ("8.8.8.8", 53),
]


def make_sessions(n: int = 40, msisdn: str = "919876543210", seed: int = 1,
                  start: str = "2023-04-17 09:00:00") -> pd.DataFrame:
    """Sessions with the columns cdrnet.synth.writers expects."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, 86400, n)), unit="s")
    dest = [DESTS[i] for i in rng.integers(0, len(DESTS), n)]
    return pd.DataFrame({
        "msisdn": msisdn, "imsi": "404701234567890", "imei": "3534560123456701",
        "start": t0, "end": t0 + pd.to_timedelta(rng.integers(1, 600, n), unit="s"),
        "src_ip": "10.1.2.3", "src_port": rng.integers(1024, 65535, n),
        "public_ip": "100.64.1.1", "public_port": rng.integers(1024, 65535, n),
        "dest_ip": [d[0] for d in dest], "dest_port": [d[1] for d in dest],
        "cell_id": "404-70-166-12345", "uplink": rng.integers(0, 10000, n), "downlink": rng.integers(0, 10000, n),
    })


# Property tests draw new examples on every developer's run (that is how they find bugs; a failing
# example is then kept as an @example), but CI draws the same ones from each test's source: a run
# that lands work must not turn red on an example nobody has seen before it.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def no_ambient_neo4j(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI tests use the workspace unless a test passes --neo4j itself."""
    monkeypatch.delenv("NEO4J_URI", raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").create()


#: The simulator writes numeric dates day-first, and Jio/paper dumps state no period: a short
#: simulated case (every date up to the 12th) cannot be decided from the data, exactly as a
#: real one could not, so tests that ingest simulated cases say the order, as an analyst would.
SIM_ORDER = "dmy"


def ingest(ws: Workspace, *paths: Path, tz: str = "Asia/Kolkata", signatures: str = "modern", layouts=None,
           date_order: str = "auto"):
    opts = Options(tz=tz, rules=load_signatures(signatures), date_order=date_order)
    return ingest_paths([str(p) for p in paths], ws, layouts or builtin_layouts(), opts, signatures,
                        show_progress=False)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI as the console script does; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = run_guarded(cli, ["-q", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def driver():
    """The tests' Neo4j (scripts/neo4j-local; skipped outside CI when none runs, never in CI)."""
    from tests.neo4j_fixtures import connect_or_skip

    d = connect_or_skip()
    yield d
    d.close()


@pytest.fixture
def graph(driver, tmp_path, request):
    """An emptied scratch database (only one the tests own) and a store for the module's CASE."""
    from cdrnet.graph.store import GraphStore
    from tests.neo4j_fixtures import wipe

    wipe(driver)
    g = GraphStore(driver, tmp_path / "rejects", case=getattr(request.module, "CASE", "test"))
    g.create_schema()
    return g
