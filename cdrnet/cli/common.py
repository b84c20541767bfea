"""Pieces shared by every subcommand: context, option bundles, error handling."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cdrnet.errors import CdrnetError
from cdrnet.store import default_case

if TYPE_CHECKING:
    from cdrnet.api import Case


@dataclass
class AppContext:
    """Global options, resolved once by the group; it opens the case (:class:`cdrnet.Case`) on first use."""

    workspace: str
    quiet: bool = False
    neo4j_uri: str | None = None
    neo4j_user: str | None = None
    database: str | None = None
    case_name: str | None = None
    _case: Case | None = None
    _announced: bool = False

    def store_line(self) -> str:
        """Which store this run reads and writes, as the first line of every command shows it
        (computed from the options, so it is printed even when the store cannot be opened)."""
        where = Path(self.workspace).resolve()
        if self.neo4j_uri:
            from urllib.parse import urlsplit

            u = urlsplit(self.neo4j_uri)
            uri = (u._replace(netloc=u.hostname + (f":{u.port}" if u.port else "")).geturl() if u.hostname
                   else self.neo4j_uri)
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
        return self.case_name or default_case(self.workspace)

    def open(self) -> Case:
        """The case on the chosen store (announced, connected once)."""
        self.announce()
        if self._case is None:
            from cdrnet.api import Case

            password = None
            if self.neo4j_uri and os.environ.get("NEO4J_PASSWORD") is None and sys.stdin.isatty():
                password = click.prompt("Neo4j password", hide_input=True, err=True)
            self._case = Case(self.workspace, self.neo4j_uri, self.case, user=self.neo4j_user, password=password,
                              database=self.database)
        return self._case

    def nothing_loaded(self, case: Case, what: str) -> bool:
        """True, after saying so, when the case holds no dumps: nothing to do is not an error (exit 0).

        Commands that name a subscriber still fail (exit 1): what the user named does not exist.
        """
        if case.dumps():
            return False
        click.echo(f"nothing to {what}: {case.store.describe()} holds no dumps (run 'cdrnet ingest PATH' first)")
        return True

    def close(self) -> None:
        if self._case is not None:
            self._case.close()


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
    except OSError as exc:
        # An output folder that is read-only or full, a file that vanished: one line, no traceback.
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot access{where}: {exc.strerror or exc}", err=True)
        click.echo("hint: check the folder exists, is writable and has free space, then run the command again",
                   err=True)
        return 1
    return 0


DATE_ORDER_KEY = "cdrnet.date_order"


def _keep_date_order(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta[DATE_ORDER_KEY] = value
    return value


def date_order_option() -> str:
    """The ``--date-order`` value of the running command ("auto" outside a command)."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(DATE_ORDER_KEY, "auto")) if ctx is not None else "auto"


#: What --tz means, per kind of command (each command gives it one meaning and says which).
INGEST_TZ_HELP = ("Zone of naive times in the dumps (stored as UTC). It becomes the case's zone: every "
                  "command shows times in it unless given its own --tz.")
SHOW_TZ_HELP = "Zone of every time shown [default: the case's zone, the one its dumps were ingested in]."
SELECT_TZ_HELP = ("Zone of every time shown and of --since/--until without an offset [default: the case's zone, "
                  "the one its dumps were ingested in].")
PAIR_TZ_HELP = ("The case's zone: naive times in two dump FILES are read in it, and every time shown and "
                "--since/--until without an offset are in it [default: for MSISDNs the zone the case was "
                "ingested in; for two files Asia/Kolkata].")


def zone_option(help_text: str = SHOW_TZ_HELP) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--tz`` for a command that shows times: None means the case's zone (resolved by ``Case``)."""
    return click.option("--tz", default=None, metavar="ZONE", help=help_text)


def input_options(f: Callable[..., Any] | None = None, *, tz_help: str = INGEST_TZ_HELP,
                  tz_default: str | None = "Asia/Kolkata") -> Any:
    """Options for reading dumps, shared by every command that parses files.

    ``--date-order`` is kept in the click context rather than passed to the
    command, so commands read it through ``date_order_option()`` without a new argument.
    ``tz_help``/``tz_default`` let a command that also shows a case (``pair``) state its one
    meaning of ``--tz``.
    """
    if f is None:
        return lambda g: input_options(g, tz_help=tz_help, tz_default=tz_default)
    f = click.option("--date-order", type=click.Choice(["auto", "dmy", "mdy"]), default="auto", show_default=True,
                     expose_value=False, callback=_keep_date_order, is_eager=False,
                     help="Order of numeric dates (03/04/2023): 'auto' decides per dump from the dates, else from "
                          "the period the preamble states, else from the header's format or, when the preamble "
                          "shows no spreadsheet re-save, the layout's own order, and refuses the dump when none "
                          "tells; 'dmy' = day first, 'mdy' = month first (Excel re-saved on a US-locale machine).")(f)
    f = click.option("--layout", "layout_file", type=click.Path(exists=True, dir_okay=False),
                     help="Mapping file (TOML/YAML) for a layout cdrnet does not know.")(f)
    f = click.option("--tz", default=tz_default, show_default=tz_default is not None, metavar="ZONE",
                     help=tz_help)(f)
    f = click.option("--country-code", default="91", show_default=True,
                     help="Country code added to national numbers.")(f)
    f = click.option("--signatures", "signatures", default="modern", show_default=True,
                     help="Signature table: 'modern', 'paper' (the paper's Table II) or a CSV file.")(f)
    f = click.option("--extra-signatures", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="CSV rows that extend/override the table (repeatable).")(f)
    return f
