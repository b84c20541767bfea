"""Neo4j's offline importer and the database folders it builds, swapped in only on success.

``neo4j-admin database import full`` writes store files directly. Run straight into the
server's database it first clears that database, and when it fails (a corrupt file, a
duplicate id, a full disk, Ctrl-C) it leaves half-written store files the server then
cannot open: the database had to be deleted by hand. So the importer builds into a
staging database folder of its own (:data:`STAGING`), and only after it succeeded are
the folders swapped: the current database's store and transaction-log folders are
moved aside, the staged ones take their names. Renames within one file system, with the
server stopped; nothing is copied. The folders moved aside are deleted only once the
server has started on the new database and its counts were checked (:meth:`Swap.commit`);
until then :meth:`Swap.rollback` puts them back. A failed import therefore leaves the
previous database exactly as it was, and the server restarts on it.

Also here: the server's control script (scripts/neo4j-local: stop, start, home) and
reading its configuration (which Bolt port, which data folders).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cdrnet.errors import GraphError

#: The admin tool's own main class in the jars scripts/neo4j-local assembles. The tarball's bin/neo4j-admin
#: runs ``org.neo4j.server.startup.Neo4jAdminCommand``, a launcher that only starts a second JVM on this
#: class (with the classpath and heap below): calling it directly saves one JVM start per import.
ADMIN_MAIN = "org.neo4j.cli.AdminTool"
#: The database name the importer builds into (a valid Neo4j name, never served: Community hosts one database).
STAGING = "cdrnet-import"
#: Suffix of a database's folders while moved aside during the swap.
ASIDE = ".cdrnet-replaced"
#: The importer's full output, kept in the server's logs folder (the error line names it).
LOG_NAME = "cdrnet-import.log"


# ---------------------------------------------------------------- the server's configuration

def conf_value(home: Path, key: str) -> str | None:
    """A setting of the server's neo4j.conf (as scripts/neo4j-local writes it), or None."""
    conf = home / "conf" / "neo4j.conf"
    if not conf.exists():
        return None
    for line in conf.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


def bolt_port_of(home: Path) -> int | None:
    """The Bolt port a Neo4j home's configuration listens on (to tie a URI to a home)."""
    address = conf_value(home, "server.bolt.listen_address")
    return int(address.rsplit(":", 1)[1]) if address else None


def data_dir(home: Path) -> Path:
    return Path(conf_value(home, "server.directories.data") or home / "data")


def admin_command(home: Path) -> list[str]:
    """``neo4j-admin`` of the Neo4j that scripts/neo4j-local assembled from Maven jars (no tarball, no bin/)."""
    lib = home / "lib"
    if not any(lib.glob("neo4j-import-tool-*.jar")):
        raise GraphError(f"no Neo4j importer in {lib}", "start the local server once (scripts/neo4j-local start) "
                                                         "so it fetches Neo4j, then run the import again")
    java = shutil.which("java")
    if java is None:
        raise GraphError("Java is needed to run Neo4j's importer", "install Java 17+")
    # What the launcher would pass: the configuration folder on the classpath, UTF-8, the heap (the importer
    # keeps its caches off the heap: --max-off-heap-memory; its heap peaks near 300 MB at 1M sessions).
    return [java, "-Xmx1g", "-Dfile.encoding=UTF-8", "-cp", f"{home / 'conf'}/*:{lib}/*", ADMIN_MAIN]


# ---------------------------------------------------------------- the control script

def server_control(script: Path, action: str) -> None:
    """Stop or start the server with its control script (scripts/neo4j-local), same environment."""
    done = subprocess.run([str(script), action], capture_output=True, text=True)
    if done.returncode != 0:
        raise GraphError(f"{script} {action} failed: {(done.stdout + done.stderr).strip()[-400:]}")


def home_of(script: Path) -> Path:
    done = subprocess.run([str(script), "home"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise GraphError(f"{script} does not say where its Neo4j lives ('{script} home' failed)")
    return Path(done.stdout.strip())


# ---------------------------------------------------------------- the importer

def _cause(output: str) -> str:
    """The importer's reason in one line: the innermost ``Caused by`` of its --verbose trace
    (e.g. ``Id '…' is defined more than once in group 'Session'``), else its last error line."""
    causes = re.findall(r"^Caused by: [\w.$]+(?:Exception|Error): (.+)$", output, flags=re.MULTILINE)
    if causes:
        return causes[-1].split("Exception: ")[-1].strip()
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.startswith((".", "-", "\t"))]
    errors = [ln for ln in lines if "error" in ln.lower() or "fail" in ln.lower()]
    return (errors or lines or ["no output"])[-1]


def run_importer(home: Path, args: list[str], cwd: Path) -> None:
    """Run ``neo4j-admin`` with ``args``; GraphError with its reason on failure.

    Into the staging database (:data:`STAGING`) it may run while the server is up or stopping: it
    writes only that database's folders, which the server does not serve (graph/bulk.py overlaps them).

    The whole output goes to the server's logs folder (:data:`LOG_NAME`), which the error names.
    """
    cmd = [*admin_command(home), *args]
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    logs = Path(conf_value(home, "server.directories.logs") or home / "logs")
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / LOG_NAME
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise GraphError(f"neo4j-admin database import failed (exit {done.returncode}): "
                         f"{_cause(done.stdout + done.stderr)}",
                         f"the database was left as it was and the server restarted on it; the importer's "
                         f"output is in {log}")


# ---------------------------------------------------------------- staging and the swap

@dataclass
class Swap:
    """The folders of ``database`` and of the staging database the importer builds, in one server home.

    A journal beside the data folders (:meth:`journal`) records the swap as it goes, so a swap killed
    in the middle (power cut, SIGKILL) is finished or undone by the next import (:meth:`recover`)
    instead of leaving folders to move back by hand: before the first rename it says ``swapping``; each
    folder of the database that came from the staging one is listed (``placed``) before its rename and
    taken off before a rollback puts the old one back; ``committing`` is written before the folders
    moved aside are deleted. So a recovery deletes only what the importer built, or what a commit had
    already decided to delete.
    """

    home: Path
    database: str
    swapped: bool = False
    #: The database's folders a staged folder was renamed to (what a rollback deletes when none was aside).
    _placed: list[Path] = field(default_factory=list)

    def journal(self) -> Path:
        return data_dir(self.home) / f"cdrnet-swap-{self.database}.json"

    def _record(self, state: str) -> None:
        """Write the journal (a new file renamed over the old: never half written)."""
        path = self.journal()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"state": state, "placed": [str(p) for p in self._placed]}), encoding="utf-8")
        os.replace(tmp, path)

    def interrupted(self) -> bool:
        """Whether an earlier import was killed during its swap (a journal or a folder moved aside is left)."""
        return self.journal().exists() or any(p.exists() for p in self.folders(self.database + ASIDE))

    def recover(self) -> str:
        """Finish or undo an interrupted swap (server stopped); returns what was done.

        ``committing``: the new database had been checked and served, the folders aside are deleted.
        ``swapping``: the old database's folders are put back and the staged ones deleted. Folders
        aside without a journal (left by a version that kept none) are refused as before.
        """
        if not self.journal().exists():
            self.check()
            return "nothing to recover"
        record = json.loads(self.journal().read_text(encoding="utf-8"))
        if record["state"] == "committing":
            self.commit()
            return "the interrupted import had been checked: its database is kept"
        self._placed = [Path(p) for p in record["placed"]]
        self.swapped = True
        self.rollback()
        self.discard_staging()
        return "the interrupted import was undone: the database is back as it was"

    def _roots(self) -> list[Path]:
        data = data_dir(self.home)
        tx = conf_value(self.home, "server.directories.transaction_logs.root")
        return [data / "databases", Path(tx) if tx else data / "transactions"]

    def folders(self, name: str) -> list[Path]:
        return [root / name for root in self._roots()]

    def check(self) -> None:
        """Refuse to start when an earlier import was interrupted in the middle of its swap."""
        aside = [p for p in self.folders(self.database + ASIDE) if p.exists()]
        if aside:
            raise GraphError(f"an earlier bulk import was interrupted during its swap: the database it replaced "
                             f"is still in {aside[0]}",
                             f"stop the server, move {aside[0].name} back to {self.database} in "
                             f"{aside[0].parent} (and the same in the transactions folder), start it again")

    def discard_staging(self) -> None:
        """Delete what the importer built under :data:`STAGING` (only ever created by this module)."""
        for p in self.folders(STAGING):
            shutil.rmtree(p, ignore_errors=True)

    def swap_in(self) -> None:
        """Move the database's folders aside and give the staged ones its name (server stopped).

        Every staged folder is checked before anything moves, and each rename is marked as it is
        done (``swapped``): a failure between two renames (a full disk, a permission) leaves a
        state :meth:`rollback` undoes, instead of a store served with another database's logs.
        """
        pairs = list(zip(self.folders(self.database), self.folders(STAGING), self.folders(self.database + ASIDE),
                         strict=True))
        for _, staged, _ in pairs:
            if not staged.exists():
                raise GraphError(f"the importer left no {staged}", "run the import again")
        self._record("swapping")
        for current, staged, aside in pairs:
            if current.exists():
                current.rename(aside)
                self.swapped = True
            self._placed.append(current)
            self._record("swapping")  # before the rename: a folder listed and aside is restored from aside
            staged.rename(current)
            self.swapped = True

    def rollback(self) -> None:
        """Put the folders moved aside back in place of the new database (server stopped).

        Only what :meth:`swap_in` did is undone: a folder of the database it had not yet moved
        aside is the old database's own and stays.
        """
        if not self.swapped:
            self.journal().unlink(missing_ok=True)
            return
        for current, aside in zip(self.folders(self.database), self.folders(self.database + ASIDE), strict=True):
            placed = current in self._placed
            if placed:
                self._placed.remove(current)
            if aside.exists():  # whatever holds the name now came from the importer
                if placed:  # off the journal's list before the old folder is back under the name
                    self._record("swapping")
                shutil.rmtree(current, ignore_errors=True)
                aside.rename(current)
            elif placed:  # the database had no such folder: the new one goes, then off the list
                shutil.rmtree(current, ignore_errors=True)
                self._record("swapping")
        self._placed.clear()
        self.swapped = False
        self.journal().unlink(missing_ok=True)

    def commit(self) -> None:
        """Delete the folders moved aside: the new database is served and checked."""
        self._record("committing")
        for aside in self.folders(self.database + ASIDE):
            shutil.rmtree(aside, ignore_errors=True)
        self._placed.clear()
        self.journal().unlink(missing_ok=True)
