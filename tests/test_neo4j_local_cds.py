"""scripts/neo4j-local's class-data sharing archive must never stop the server from starting.

A JVM given a damaged archive (truncated: cut off while written, a full disk, a copy) aborts at once
(OpenJDK 17: SIGABRT, exit 134, before any of Neo4j runs), and the archive stayed in place, so every
later start failed the same way. These tests run the script against a stand-in ``java`` (a tiny
server on the Bolt and HTTP ports that aborts as that JVM does when handed an archive), so they
need neither Neo4j nor a JDK.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "neo4j-local"

FAKE_JAVA = """#!/usr/bin/env bash
# Stand-in for java: aborts on any class-data archive it is asked to load (as OpenJDK does on a
# truncated one), else serves the Bolt and HTTP ports until SIGTERM; the admin command does nothing.
for a in "$@"; do
  case "$a" in
    -XX:SharedArchiveFile=*) echo "fatal error: archive" >&2; exit 134 ;;
    *Neo4jAdminCommand*) exit 0 ;;
  esac
done
exec "{python}" "{server}"
"""

FAKE_SERVER = """
import http.server, os, signal, socket, sys, threading
bolt = socket.socket(); bolt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
bolt.bind(("127.0.0.1", int(os.environ["CDRNET_NEO4J_BOLT_PORT"]))); bolt.listen(16)
threading.Thread(target=lambda: [bolt.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
web = http.server.HTTPServer(("127.0.0.1", int(os.environ["CDRNET_NEO4J_HTTP_PORT"])), Ok)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
web.serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A Neo4j home with its jars "fetched" and a database present, and java replaced by the stand-in."""
    home = tmp_path / "neo 4j home"  # a space: the archive's path is passed as one argument
    (home / "lib").mkdir(parents=True)
    (home / "lib" / ".complete").touch()
    (home / "data" / "databases" / "system").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    server = tmp_path / "server.py"
    server.write_text(FAKE_SERVER)
    java = bin_dir / "java"
    java.write_text(FAKE_JAVA.replace("{python}", sys.executable).replace("{server}", str(server)))
    java.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CDRNET_NEO4J_HOME": str(home),
           "CDRNET_NEO4J_BOLT_PORT": str(_free_port()), "CDRNET_NEO4J_HTTP_PORT": str(_free_port()),
           "CDRNET_NEO4J_GUIDE_PORT": str(_free_port())}
    yield home, env
    subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60, check=False)


def _archive(env: dict[str, str], home: Path) -> Path:
    """The archive's path as the script names it (version, java binary and its JDK's release file)."""
    name = ('j=$(readlink -f "$(command -v java)"); '
            '{ echo "$j"; cat "$(dirname "$j")/../release" 2>/dev/null || true; } | cksum | cut -d" " -f1')
    java_id = subprocess.run(["bash", "-c", name], env=env, capture_output=True, text=True, check=True).stdout.strip()
    return home / "cds" / f"neo4j-5.26.12-{java_id}.jsa"


def test_start_survives_a_damaged_archive(fake_home: tuple[Path, dict[str, str]]) -> None:
    home, env = fake_home
    archive = _archive(env, home)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"\x00" * 4096)  # non-empty: the script hands it to the JVM, which aborts
    run = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith(f"bolt://127.0.0.1:{env['CDRNET_NEO4J_BOLT_PORT']}")
    assert not archive.exists()  # gone: this start records a new one, kept by the next stop


def test_start_without_archive_records_one(fake_home: tuple[Path, dict[str, str]]) -> None:
    """The ordinary first start is not retried: it starts once, asking for an archive at exit."""
    home, env = fake_home
    run = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "starting again" not in run.stdout
