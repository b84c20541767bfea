"""Pieces shared by every subcommand: context, option bundles, error handling."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from cdrnet.errors import CdrnetError
from cdrnet.workspace import Workspace


@dataclass
class AppContext:
    """Global options, resolved once by the group."""

    workspace: str
    quiet: bool = False

    def open_workspace(self, create: bool = False) -> Workspace:
        ws = Workspace(self.workspace)
        return ws.create() if create else ws


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


def input_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options for reading dumps, shared by every command that parses files."""
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
