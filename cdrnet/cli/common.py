"""Pieces shared by every subcommand: context, option bundles, error handling."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd

from cdrnet.errors import CdrnetError, UsageError, WorkspaceError
from cdrnet.workspace import Workspace


def parse_time(text: str | None) -> pd.Timestamp | None:
    """ISO date/time from the command line; naive values are UTC."""
    if not text:
        return None
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the time '{text}'", "use ISO format, e.g. 2024-03-01 or 2024-03-01T18:00+05:30") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass
class AppContext:
    """Global options, resolved once by the group; the one place that knows where sessions live."""

    workspace: str
    quiet: bool = False
    neo4j_uri: str | None = None
    neo4j_user: str | None = None
    database: str | None = None
    case_name: str | None = None
    _graph: object = None
    _announced: bool = False

    def store_line(self) -> str:
        """Which store this run reads and writes, as the first line of every command shows it."""
        where = Path(self.workspace).resolve()
        if self.neo4j_uri:
            from urllib.parse import urlsplit

            u = urlsplit(self.neo4j_uri)
            uri = u._replace(netloc=u.hostname + (f":{u.port}" if u.port else "")).geturl() if u.hostname else self.neo4j_uri
            db = f", database {self.database}" if self.database else ""
            return f"store: Neo4j {uri}{db} (outputs in {where})"
        return f"store: workspace {where}"

    def announce(self, line: str | None = None) -> None:
        """Print the store line once, before the command's own output (an analyst must never wonder
        which case a figure came from, e.g. when NEO4J_URI is set in the shell)."""
        if not self._announced:
            self._announced = True
            click.echo(line or self.store_line())

    @property
    def case(self) -> str:
        """The case in Neo4j: --case, else the workspace folder's name (cases share one database)."""
        return self.case_name or Path(self.workspace).resolve().name

    def open_workspace(self, create: bool = False) -> Workspace:
        self.announce()
        ws = Workspace(self.workspace)
        return ws.create() if create else ws

    def graph(self):
        """The Neo4j store (connected once, schema ensured), or None on the embedded workspace."""
        if not self.neo4j_uri:
            return None
        self.announce()
        if self._graph is None:
            import os

            from cdrnet.graph.connection import connect
            from cdrnet.graph.store import GraphStore

            password = os.environ.get("NEO4J_PASSWORD")
            if password is None and sys.stdin.isatty():
                password = click.prompt("Neo4j password", hide_input=True, err=True)
            driver = connect(self.neo4j_uri, self.neo4j_user, password, self.database)
            store = GraphStore(driver, Path(self.workspace) / "neo4j-rejects", self.database, case=self.case)
            store.create_schema()
            self._graph = store
        return self._graph

    def store(self, create: bool = False):
        """Where ingest writes: Neo4j with --neo4j, else the workspace."""
        return self.graph() or self.open_workspace(create=create)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.driver.close()

    def output_path(self, name: str) -> Path:
        return Path(self.workspace) / name

    def load_sessions(self, since: pd.Timestamp | None, until: pd.Timestamp | None,
                      subscribers: list[str] | None) -> tuple[pd.DataFrame, dict[str, int]]:
        """Canonical sessions (deduplicated across dumps) and per-subscriber time resolution."""
        graph = self.graph()
        if graph is not None:
            frame = graph.sessions(since, until, subscribers)
            resolution = graph.resolution_by_subscriber()
        else:
            ws = self.open_workspace()
            frame = ws.sessions()
            if since is not None:
                frame = frame[frame["start_utc"] >= since]
            if until is not None:
                frame = frame[frame["start_utc"] < until]
            if subscribers:
                frame = frame[frame["msisdn"].isin(set(subscribers))]
            resolution = ws.resolution_by_subscriber()
        if frame.empty:
            raise WorkspaceError("no sessions match the selection", "check --since/--until/--subscribers, or ingest first")
        return frame.reset_index(drop=True), resolution

    def coverage(self):  # noqa: ANN201 - cdrnet.analysis.observed.Coverage, imported lazily
        """When each subscriber was observed and what each dump's times mean, from the store's dump reports."""
        from cdrnet.analysis.observed import Coverage

        return Coverage.from_reports(self.store().reports())

    def pair_sessions(self, a: str, b: str, layout_file: str | None, tz: str, country_code: str, signatures: str,
                      extra: tuple[str, ...]) -> tuple[pd.DataFrame, str, str]:
        """Sessions for two subscribers given as MSISDNs (workspace) or as two dump files."""
        from cdrnet.loader.identifiers import clean_text, normalise_msisdn

        if Path(a).is_file() and Path(b).is_file():
            self.announce(f"store: none (reading {a} and {b} directly)")
            from cdrnet.cli.ingest import build_layouts, build_options
            from cdrnet.loader.memory import parse_files

            frame = parse_files([a, b], build_layouts(layout_file), build_options(tz, country_code, signatures, extra))
            ids = [frame.loc[frame["source_file"] == p, "msisdn"].mode() for p in (a, b)]
            if any(i.empty for i in ids):
                raise UsageError("one of the two files holds no sessions")
            return frame, str(ids[0].iloc[0]), str(ids[1].iloc[0])
        norm, reason = normalise_msisdn(clean_text(pd.Series([a, b], dtype="string")), country_code)
        if reason.notna().any():
            raise UsageError(f"'{a}' and '{b}' must be two phone numbers or two dump files")
        frame, _ = self.load_sessions(None, None, norm.tolist())
        missing = [m for m in norm if m not in set(frame["msisdn"])]
        if missing:
            raise UsageError(f"no sessions for {', '.join(missing)} in workspace {self.workspace}", "run 'cdrnet dumps' to see what is loaded")
        return frame, norm.iloc[0], norm.iloc[1]


def fail(message: str, hint: str = "") -> None:
    """Print one clear line (plus hint) and exit non-zero."""
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(1)


def run_guarded(group: click.Group, args: list[str] | None = None) -> int:
    """Run the CLI turning library errors into one line and a hint; return the exit code."""
    try:
        group.main(args=args, prog_name="cdrnet", standalone_mode=False)
    except CdrnetError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


DATE_ORDER_KEY = "cdrnet.date_order"


def _keep_date_order(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta[DATE_ORDER_KEY] = value
    return value


def date_order_option() -> str:
    """The ``--date-order`` value of the running command ("auto" outside a command)."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(DATE_ORDER_KEY, "auto")) if ctx is not None else "auto"


def input_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options for reading dumps, shared by every command that parses files.

    ``--date-order`` is kept in the click context rather than passed to the
    command, so commands read it through ``build_options`` without a new argument.
    """
    f = click.option("--date-order", type=click.Choice(["auto", "dmy", "mdy"]), default="auto", show_default=True,
                     expose_value=False, callback=_keep_date_order, is_eager=False,
                     help="Order of numeric dates (03/04/2023): 'auto' decides per dump from the dates, else from "
                          "the period the preamble states, and refuses the dump when neither tells; 'dmy' = day "
                          "first, 'mdy' = month first (Excel re-saved on a US-locale machine).")(f)
    f = click.option("--layout", "layout_file", type=click.Path(exists=True, dir_okay=False),
                     help="Mapping file (TOML/YAML) for a layout cdrnet does not know.")(f)
    f = click.option("--tz", default="Asia/Kolkata", show_default=True,
                     help="Time zone of naive times in the dumps (stored as UTC).")(f)
    f = click.option("--country-code", default="91", show_default=True,
                     help="Country code added to national numbers.")(f)
    f = click.option("--signatures", "signatures", default="modern", show_default=True,
                     help="Signature table: 'modern', 'paper' (the paper's Table II) or a CSV file.")(f)
    f = click.option("--extra-signatures", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="CSV rows that extend/override the table (repeatable).")(f)
    return f
