"""``neo4j-import``: a case's first load into an empty Neo4j by the offline importer."""

from __future__ import annotations

from pathlib import Path

import click

from cdrnet.cli.common import AppContext
from cdrnet.errors import UsageError


@click.command("neo4j-import")
@click.option("--server", "script", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Control script of the local Neo4j (scripts/neo4j-local): it stops the server for the import "
                   "and starts it again [default: this checkout's scripts/neo4j-local].")
@click.option("--files-only", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Only write the node and relationship files and the importer's arguments into DIR "
                   "(for a Neo4j elsewhere); no server is touched.")
@click.pass_obj
def neo4j_import_cmd(app: AppContext, script: str | None, files_only: str | None) -> None:
    """Load the workspace's dumps into an EMPTY Neo4j with neo4j-admin's offline importer.

    A first load only: the importer builds a new database, so it refuses a database that
    holds anything (add later dumps with `cdrnet --neo4j URI ingest`, the Bolt writer).
    The server is stopped during the import and started again; constraints, indexes and
    usage summaries are then the same as after a Bolt load. Data sessions and call records
    (voice/SMS CDRs, tower dumps: calls, CALLED contacts, their cells) give the graph the Bolt
    writer gives. Ingest into the workspace first.
    It also writes each subscriber's co-usage units (CoUsageUnits nodes), which after a
    Bolt load the first `link --neo4j` builds: the first link run reads them at once.
    The importer builds a staging database that replaces the old one only on success: if it
    fails, the server restarts on the database as it was (output in its logs/cdrnet-import.log).

    \b
    Examples:
      cdrnet -w case42 ingest exports/
      cdrnet -w case42 --neo4j bolt://127.0.0.1:7687 neo4j-import
      scripts/neo4j-local import case42          # the same, for the local server
      cdrnet -w case42 neo4j-import --files-only import-files/
    """
    from cdrnet.graph.bulk import bulk_load, copy_rejects, default_script, workspace_dumps, write_import_files

    dumps = workspace_dumps(app.workspace)
    if files_only:
        app.announce(f"store: workspace {Path(app.workspace).resolve()} (import files in {Path(files_only).resolve()})")
        files = write_import_files(dumps, app.case, files_only)
        args = files.importer_args(app.database or "neo4j")
        (Path(files_only) / "import.args").write_text("\n".join(args) + "\n", encoding="utf-8")
        click.echo(f"{files.sessions:,} sessions{_calls(files.calls)} of {len(dumps)} dump(s) (case '{app.case}') "
                   f"written as "
                   f"{len(files.nodes)} node and {len(files.relationships)} relationship files in "
                   f"{files.seconds:.1f} s")
        click.echo(f"with the server stopped, run in {Path(files_only).resolve()}: neo4j-admin @import.args")
        click.echo("then start it and run: cdrnet --neo4j URI dumps (constraints and indexes are created on connect)")
        return
    if not app.neo4j_uri:
        raise UsageError("neo4j-import needs the server: pass --neo4j URI (or --files-only DIR)",
                         "e.g. cdrnet -w case42 --neo4j bolt://127.0.0.1:7687 neo4j-import")
    control = Path(script) if script else default_script()
    if control is None:
        raise UsageError("neo4j-import stops and starts the server: pass --server SCRIPT (scripts/neo4j-local)",
                         "or write the files with --files-only DIR and run neo4j-admin yourself")
    app.announce()
    from cdrnet.graph.connection import connect

    res = bulk_load(dumps, app.neo4j_uri, control, app.case, lambda: connect(app.neo4j_uri, app.neo4j_user),
                    app.database)
    copy_rejects(app.workspace, [r.sha256 for r, _ in dumps])
    for step, secs in res.steps.items():
        click.echo(f"  {step}: {secs:.1f} s")
    nodes = ", ".join(f"{n:,} {label}" for label, n in res.nodes.items())
    click.echo(f"{res.sessions:,} sessions{_calls(res.calls)} of {len(dumps)} dump(s) imported into case "
               f"'{app.case}' in "
               f"{res.seconds:.1f} s ({res.sessions / max(res.seconds, 1e-9):,.0f} sessions/s): {nodes}")


def _calls(n: int) -> str:
    """`` and N call events`` when the case has call records (the sessions/s rate counts sessions only)."""
    return f" and {n:,} call events" if n else ""
