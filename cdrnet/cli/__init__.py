"""The ``cdrnet`` command line: a click group whose subcommands live in sibling modules."""

from __future__ import annotations

import sys

import click

from cdrnet import __version__
from cdrnet.cli.common import AppContext, run_guarded
from cdrnet.cli.demo import demo_cmd
from cdrnet.cli.ingest import dumps_cmd, ingest_cmd, signatures_cmd
from cdrnet.cli.link import evaluate_cmd, link_cmd, pair_cmd
from cdrnet.cli.report import map_cmd, profile_cmd, trends_cmd
from cdrnet.cli.simulate import simulate_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cdrnet")
@click.option("--workspace", "-w", envvar="CDRNET_WORKSPACE", default="cdrnet-workspace", show_default=True,
              type=click.Path(file_okay=False), help="Case folder for the embedded store (env CDRNET_WORKSPACE).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def cli(ctx: click.Context, workspace: str, quiet: bool) -> None:
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
    Try it all on a synthetic case: cdrnet demo
    """
    ctx.obj = AppContext(workspace=workspace, quiet=quiet)


cli.add_command(ingest_cmd)
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


def main() -> None:
    """Console-script entry point."""
    sys.exit(run_guarded(cli))
