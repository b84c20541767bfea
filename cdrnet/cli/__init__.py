"""The ``cdrnet`` command line: a click group whose subcommands live in sibling modules."""

from __future__ import annotations

import importlib
import sys

import click

from cdrnet import __version__
from cdrnet.cli.common import AppContext, run_guarded

#: Every subcommand and the module defining it, imported only when that command runs (or when
#: help lists them all). Why: importing every subcommand module pulled scipy, the analysis and the
#: graph code into every run, ``ingest`` included, and into each of its spawned worker processes
#: (they import the ``cdrnet`` script's modules again): about a second of CPU per process.
LAZY_COMMANDS: dict[str, str] = {
    "ingest": "cdrnet.cli.ingest:ingest_cmd",
    "neo4j-import": "cdrnet.cli.bulk:neo4j_import_cmd",
    "dumps": "cdrnet.cli.ingest:dumps_cmd",
    "signatures": "cdrnet.cli.ingest:signatures_cmd",
    "link": "cdrnet.cli.link:link_cmd",
    "pair": "cdrnet.cli.link:pair_cmd",
    "evaluate": "cdrnet.cli.evaluate:evaluate_cmd",
    "simulate": "cdrnet.cli.simulate:simulate_cmd",
    "profile": "cdrnet.cli.report:profile_cmd",
    "trends": "cdrnet.cli.report:trends_cmd",
    "map": "cdrnet.cli.report:map_cmd",
    "demo": "cdrnet.cli.demo:demo_cmd",
    "query": "cdrnet.cli.query:query_cmd",
    "evidence": "cdrnet.cli.evidence:evidence_cmd",
    "contacts": "cdrnet.cli.contacts:contacts_cmd",
    "common": "cdrnet.cli.contacts:common_cmd",
    "chain": "cdrnet.cli.contacts:chain_cmd",
    "towers": "cdrnet.cli.contacts:towers_cmd",
    "summary": "cdrnet.cli.summary:summary_cmd",
    "report": "cdrnet.cli.summary:report_cmd",
    "cells": "cdrnet.cli.cells:cells_cmd",
}

def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--quiet`` given after the subcommand: the same switch as before it."""
    if value and isinstance(ctx.obj, AppContext):
        ctx.obj.quiet = True


class CdrnetGroup(click.Group):
    """Adds ``--quiet`` to every subcommand, so it works wherever an analyst types it."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any("--quiet" in p.opts for p in cmd.params):
            cmd.params.append(click.Option(["--quiet", "-q"], is_flag=True, expose_value=False, callback=_set_quiet,
                                           help="No progress bars (also accepted before the command)."))
        super().add_command(cmd, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use (see :data:`LAZY_COMMANDS`)."""
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            cmd = getattr(importlib.import_module(module), attr)
            assert cmd.name == cmd_name, (cmd.name, cmd_name)
            self.add_command(cmd, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=CdrnetGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cdrnet")
@click.option("--workspace", "-w", envvar="CDRNET_WORKSPACE", default="cdrnet-workspace", show_default=True,
              type=click.Path(file_okay=False), help="Case folder for the embedded store (env CDRNET_WORKSPACE).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--neo4j", "neo4j_uri", envvar="NEO4J_URI", default=None, metavar="URI",
              help="Use Neo4j (e.g. bolt://127.0.0.1:7687) instead of the workspace (env NEO4J_URI; an "
                   "explicit --workspace wins over the environment). Password from NEO4J_PASSWORD or a prompt, "
                   "never the command line.")
@click.option("--neo4j-user", envvar="NEO4J_USERNAME", default="neo4j", show_default=True,
              help="Neo4j user (env NEO4J_USERNAME).")
@click.option("--database", envvar="NEO4J_DATABASE", default=None,
              help="Neo4j database [default: the server's default].")
@click.option("--case", "case_name", envvar="CDRNET_CASE", default=None, metavar="NAME",
              help="Case name in Neo4j: cases share one database and never mix [default: the workspace folder's name].")
@click.pass_context
def cli(ctx: click.Context, workspace: str, quiet: bool, neo4j_uri: str | None, neo4j_user: str, database: str | None,
        case_name: str | None) -> None:
    """Find hidden people networks in telecom data-session dumps (GPRS CDR / IPDR).

    \b
    Typical case:
      cdrnet ingest exports/            # parse every dump into the workspace
      cdrnet dumps                      # what is loaded, with data quality
      cdrnet link                       # score who-talks-to-whom -> edges.csv
      cdrnet map --out case.html        # interactive offline network map
      cdrnet profile 919812345678       # persona of one subscriber
      cdrnet trends 919812345678        # WhatsApp usage trends and charts
      cdrnet pair 919812345678 919887654321   # the paper's pair report
      cdrnet contacts 919812345678      # direct contacts from voice/SMS CDRs
      cdrnet summary                    # the case at a glance (screen + printable page)
      cdrnet report                     # the Excel workbook for investigators
    Try it all on a synthetic case: cdrnet demo
    """
    sources = click.core.ParameterSource
    if (ctx.get_parameter_source("workspace") == sources.COMMANDLINE
            and ctx.get_parameter_source("neo4j_uri") == sources.ENVIRONMENT):
        # Typing --workspace is a choice made now; NEO4J_URI may be left over from another case.
        neo4j_uri = None
    ctx.obj = AppContext(workspace=workspace, quiet=quiet, neo4j_uri=neo4j_uri, neo4j_user=neo4j_user,
                         database=database, case_name=case_name)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Console-script entry point."""
    from cdrnet.allocator import tune_process

    tune_process()  # before any command imports pyarrow
    sys.exit(run_guarded(cli))
