"""The wheel holds every subpackage and data file (a plain wheel install works, not only editable)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_directory_is_declared():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found <= declared, f"undeclared packages: {sorted(found - declared)}"


def test_wheel_contents(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True)
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    for needed in ("cdrnet/synth/simulate.py", "cdrnet/loader/layouts/jio.toml", "cdrnet/loader/signatures/paper.csv",
                   "cdrnet/cypher/queries/timeline.cypher", "cdrnet/cypher/browser-style.grass", "cdrnet/viz/netmap.py",
                   "cdrnet/graph/model.py", "cdrnet/cli/__init__.py"):
        assert needed in names, needed
