"""``profile``, ``trends`` and ``map``: what analysts print for briefings."""

from __future__ import annotations

import click

from cdrnet.api import normalise_numbers
from cdrnet.cli.common import SELECT_TZ_HELP, AppContext, zone_option
from cdrnet.cli.link import given_link_options, link_options
from cdrnet.cli.summary import labels_option, read_labels


@click.command("profile")
@click.argument("msisdns", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the report, CSVs and chart [default: WORKSPACE/profiles].")
@zone_option()
@click.option("--rdns", is_flag=True,
              help="Reverse-DNS the top destinations (needs a resolver; cached in the workspace).")
@click.option("--resolver", default=None, help="DNS server HOST[:PORT] for --rdns [default: from /etc/resolv.conf].")
@click.option("--rdns-timeout", type=float, default=2.0, show_default=True, help="Seconds per lookup.")
@labels_option
@click.pass_obj
def profile_cmd(app: AppContext, msisdns: tuple[str, ...], out_dir: str | None, tz: str | None, rdns: bool,
                resolver: str | None, rdns_timeout: float, labels_file: str | None) -> None:
    """Persona of each subscriber: the paper's Table III and more, as text, CSV and a PNG chart.

    \b
    Examples:
      cdrnet profile 919812345678
      cdrnet profile 919812345678 919887654321 --out briefing/ --rdns
    """
    from cdrnet.analysis.profile import profile_text

    case = app.open()
    labels = read_labels(case, labels_file)
    tz = case.zone_or_case(tz)
    empty = {m: r for r in case.dumps() for m in r.no_records_for}
    for m in normalise_numbers(msisdns):
        if m in empty and not case.store.sessions(None, None, [m]).shape[0]:
            # Requested and answered "No Records Found": a fact about the subscriber, not an error.
            click.echo(f"no records for {m} in period {empty[m].period_text(tz)} ({empty[m].name})\n")
            continue
        names = None
        if rdns:
            names, stats = case.resolve_destinations(m, resolver, rdns_timeout)
            click.echo(f"reverse DNS: {', '.join(f'{k} {v}' for k, v in sorted(stats.items()))}")
        paths = case.write_profile(m, out_dir, tz=tz, rdns=names, label=labels.of(m))
        click.echo(profile_text(case.profile(m, tz, rdns=names, label=labels.of(m))), nl=False)
        click.echo(f"written: {', '.join(str(p) for p in paths)}\n")


@click.command("trends")
@click.argument("msisdns", nargs=-1)
@click.option("--app", "app_name", default="WhatsApp", show_default=True,
              help="Application (matches any app whose name contains it, and vendors).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the CSVs and charts [default: WORKSPACE/trends].")
@zone_option()
@click.option("--pseudonymize", is_flag=True,
              help="Keyed tokens instead of numbers in files, file names and charts (key in CDRNET_PSEUDONYM_KEY).")
@click.option("--possible-apps", is_flag=True,
              help="Also count low-confidence labels such as 'XMPP (WhatsApp possible)' "
                   "(port 5222 outside Meta's ranges).")
@click.pass_obj
def trends_cmd(app: AppContext, msisdns: tuple[str, ...], app_name: str, out_dir: str | None, tz: str | None,
               pseudonymize: bool, possible_apps: bool) -> None:
    """Usage trends on one application: connection list, per day, 3-hour intervals, charts.

    Files are per subscriber: trends_<MSISDN>_<APP>_*.csv/.png (the pseudonym with
    --pseudonymize). With no MSISDN, every loaded subscriber goes into one set of
    trends_all_<APP>_* files (the paper's folder mode). Day-of-week charts show
    connections per observed day of each weekday; every chart states its dates and zone.

    \b
    Examples:
      cdrnet trends 919812345678
      cdrnet trends --app Telegram --tz UTC
      cdrnet trends                      # all subscribers, WhatsApp
    """
    if not msisdns and app.nothing_loaded(app.open(), "chart"):
        return
    paths = app.open().trends(list(msisdns), app_name, out_dir, tz, pseudonymized=pseudonymize, notify=click.echo,
                              possible_apps=possible_apps)
    for p in paths:
        click.echo(f"written {p}")


@click.command("map")
@link_options
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="File to write [default: WORKSPACE/map.html, or map.graphml/.gexf/.json with --format].")
@click.option("--suspect", "suspects", multiple=True, help="Centre on this number (repeatable).")
@click.option("--hops", type=click.IntRange(1, 6), default=1, show_default=True,
              help="Ego network radius around suspects.")
@click.option("--title", default="cdrnet people network", show_default=True)
@click.option("--edges", "edges_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Use this edges.csv instead of linking again.")
@click.option("--format", "fmt", type=click.Choice(["html", "graphml", "gexf", "json"]), default="html",
              show_default=True)
@click.option("--pseudonymize", is_flag=True, help="Label nodes with keyed tokens (key in CDRNET_PSEUDONYM_KEY).")
@click.option("--contacts/--no-contacts", default=True, show_default=True,
              help="Also draw direct contacts from call records (dashed; a pair that is both is labelled 'both').")
@labels_option
@zone_option(SELECT_TZ_HELP)
@click.pass_obj
def map_cmd(app: AppContext, out: str | None, suspects: tuple[str, ...], hops: int, title: str, edges_file: str | None,
            fmt: str, pseudonymize: bool, contacts: bool, labels_file: str | None, tz: str | None, **kw) -> None:
    """Interactive people-network map (offline HTML) or a graph file for Gephi.

    The map draws the case's current network: the links and parameters of the
    latest 'cdrnet link' run (on Neo4j its CO_USED links). Link options given here
    that differ from that run re-link the case now (nothing is stored), and the
    first lines say so; with no link run yet the map links with the defaults and
    says so. The file goes to the workspace unless --out is given, and its path is printed.

    The HTML map has two tabs: Network, and Places (the place view of 'cdrnet cells
    map': the cells at their latitude/longitude with the drawn subscribers seen there,
    a day slider in the case's zone, no tile server). A number picked in one tab is
    picked in the other; a case with no positioned cell says so in the Places tab.

    \b
    Examples:
      cdrnet map                         # WORKSPACE/map.html
      cdrnet map --out case42.html
      cdrnet map --suspect 919812345678 --hops 2 --min-score 5 --out ego.html
      cdrnet map --format graphml --out case42.graphml
    """
    case = app.open()
    if app.nothing_loaded(case, "map"):
        return
    tz = case.zone_or_case(tz)
    path = case.write_map(out, suspects, hops, title, edges_file, fmt, pseudonymize, tz=tz,
                          labels=read_labels(case, labels_file), notify=click.echo,
                          overrides=given_link_options(kw, tz), contacts=contacts)
    click.echo(f"written {path}")
