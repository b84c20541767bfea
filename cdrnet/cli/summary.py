"""``summary`` and ``report``: the case at a glance, on screen, as a printable page and as a workbook."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from cdrnet.cli.common import AppContext

if TYPE_CHECKING:
    from cdrnet.api import Case
    from cdrnet.labels import Labels


def labels_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--labels FILE``: names or aliases shown beside numbers (map, summary, report, profile)."""
    return click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False), default=None,
                        help="CSV 'msisdn,label' (names or aliases from the case file) shown beside the numbers; "
                             "numbers are read as everywhere (+91, 0, 10 digits); lines that are not numbers and "
                             "numbers not in the case are reported, not fatal.")(f)


def read_labels(case: Case, path: str | None) -> Labels:
    """The label file, with one line printed for each thing in it that could not be used."""
    labels, problems = case.labels(path)
    for line in problems:
        click.echo(line)
    if path is not None:
        click.echo(f"labels: {len(labels.names)} number(s) labelled from {path}")
    return labels


def tz_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--tz", default=None,
                        help="Zone for the times shown [default: the zone the case's dumps were read in].")(f)


@click.command("summary")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="The printable page [default: WORKSPACE/summary.html].")
@labels_option
@tz_option
@click.pass_obj
def summary_cmd(app: AppContext, out: str | None, labels_file: str | None, tz: str | None) -> None:
    """The case at a glance, on screen and as one printable HTML page.

    Subscribers, operators and layouts, each dump's requested period, exports
    with no records, data quality, sessions, and the links of the case's current
    network (the latest 'cdrnet link' run; with none yet it links now with the
    default parameters and says so) with the strongest ones. With call records in
    the case, the direct contacts (calls, SMS) among its subscribers are listed
    beside the links, the pairs that are both first and marked BOTH. Times are in the
    case's zone and say which. A case with no links, or no dumps, says so (exit 0).

    \b
    Examples:
      cdrnet summary                     # screen + WORKSPACE/summary.html
      cdrnet summary --labels names.csv --out briefing/case42.html
    """
    from cdrnet.analysis.summary import summary_text

    case = app.open()
    if app.nothing_loaded(case, "summarise"):
        return
    labels = read_labels(case, labels_file)
    s = case.overview(labels, tz=tz)
    click.echo(summary_text(s), nl=False)
    click.echo(f"written {case.write_summary(s, out)}")


@click.command("report")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False), default=None,
              help="The workbook to write [default: WORKSPACE/report.xlsx].")
@click.option("--app", "app_name", default="WhatsApp", show_default=True,
              help="Application of the Trends sheet (3-hour table), as 'cdrnet trends --app'.")
@labels_option
@tz_option
@click.pass_obj
def report_cmd(app: AppContext, xlsx: str | None, app_name: str, labels_file: str | None, tz: str | None) -> None:
    """The Excel workbook investigators expect, from the case's current network.

    Sheets: the sections of 'cdrnet summary' -- Summary, Dumps, Operators (per
    operator and layout), No records (exports with none), Subscribers (persona per
    subscriber), Links (edges with evidence counts) -- then, with call records,
    Direct contacts (every pair that is an inferred link, a direct contact or both,
    and which) and, per subscriber as 'cdrnet contacts MSISDN' shows them, Top 10
    contacts, Bottom 10 contacts and Night calls (22:00-06:00, each call with its
    file, SHA-256 and line); IMEI-IMSI periods (each device and SIM of each
    subscriber, first and last seen, changes marked), Trends (3-hour table),
    Evidence (per link, every supporting session with its file, SHA-256 and line).
    Header rows frozen, filters on,
    dates as Excel dates in the case's zone (named in the header), MSISDN, IMSI and
    IMEI as text. The network is the latest 'cdrnet link' run (with none yet the
    case is linked now with the default parameters, and the Summary sheet says so).

    \b
    Examples:
      cdrnet report                      # WORKSPACE/report.xlsx
      cdrnet report --xlsx case42.xlsx --labels names.csv
    """
    from cdrnet.analysis.summary import header_lines

    case = app.open()
    if app.nothing_loaded(case, "report"):
        return
    s = case.overview(read_labels(case, labels_file), tz=tz)
    for line in header_lines(s):
        click.echo(line)
    path = case.write_report(xlsx if xlsx is not None else case.output("report.xlsx"), s, app=app_name)
    click.echo(f"written {path}")
