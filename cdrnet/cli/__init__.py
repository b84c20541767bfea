"""The ``cdrnet`` command line: a click group whose subcommands live in sibling modules."""

from __future__ import annotations

import sys

import click

from cdrnet import __version__
from cdrnet.cli.bulk import neo4j_import_cmd
from cdrnet.cli.cells import cells_cmd
from cdrnet.cli.common import AppContext, run_guarded
from cdrnet.cli.contacts import chain_cmd, common_cmd, contacts_cmd, towers_cmd
from cdrnet.cli.demo import demo_cmd
from cdrnet.cli.evaluate import evaluate_cmd
from cdrnet.cli.evidence import evidence_cmd
from cdrnet.cli.ingest import dumps_cmd, ingest_cmd, signatures_cmd
from cdrnet.cli.link import link_cmd, pair_cmd
from cdrnet.cli.query import query_cmd
from cdrnet.cli.report import map_cmd, profile_cmd, trends_cmd
from cdrnet.cli.simulate import simulate_cmd
from cdrnet.cli.summary import report_cmd, summary_cmd


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


cli.add_command(ingest_cmd)
cli.add_command(neo4j_import_cmd)
cli.add_command(dumps_cmd)
cli.add_command(signatures_cmd)
cli.add_command(link_cmd)
cli.add_command(pair_cmd)
cli.add_command(evaluate_cmd)
cli.add_command(simulate_cmd)
cli.add_command(profile_cmd)
cli.add_command(trends_cmd)
cli.add_command(map_cmd)
cli.add_command(demo_cmd)
cli.add_command(query_cmd)
cli.add_command(evidence_cmd)
cli.add_command(contacts_cmd)
cli.add_command(common_cmd)
cli.add_command(chain_cmd)
cli.add_command(towers_cmd)
cli.add_command(summary_cmd)
cli.add_command(report_cmd)
cli.add_command(cells_cmd)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run_guarded(cli))
