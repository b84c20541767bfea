"""``profile``, ``trends`` and ``map``: what analysts print for briefings."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from cdrnet.cli.common import AppContext
from cdrnet.cli.link import build_params, link_options
from cdrnet.errors import UsageError


def _numbers(values: tuple[str, ...], country_code: str = "91") -> list[str]:
    from cdrnet.loader.identifiers import clean_text, normalise_msisdn

    if not values:
        return []
    norm, reason = normalise_msisdn(clean_text(pd.Series(list(values), dtype="string")), country_code)
    bad = [v for v, r in zip(values, reason, strict=True) if pd.notna(r)]
    if bad:
        raise UsageError(f"not a phone number: {', '.join(bad)}")
    return norm.tolist()


@click.command("profile")
@click.argument("msisdns", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the report, CSVs and chart [default: WORKSPACE/profiles].")
@click.option("--tz", default="Asia/Kolkata", show_default=True, help="Zone for the times shown.")
@click.option("--rdns", is_flag=True, help="Reverse-DNS the top destinations (needs a resolver; cached in the workspace).")
@click.option("--resolver", default=None, help="DNS server HOST[:PORT] for --rdns [default: from /etc/resolv.conf].")
@click.option("--rdns-timeout", type=float, default=2.0, show_default=True, help="Seconds per lookup.")
@click.pass_obj
def profile_cmd(app: AppContext, msisdns: tuple[str, ...], out_dir: str | None, tz: str, rdns: bool,
                resolver: str | None, rdns_timeout: float) -> None:
    """Persona of each subscriber: the paper's Table III and more, as text, CSV and a PNG chart.

    \b
    Examples:
      cdrnet profile 919812345678
      cdrnet profile 919812345678 919887654321 --out briefing/ --rdns
    """
    from cdrnet.analysis.profile import build_profile, profile_text, write_profile
    from cdrnet.analysis.rdns import resolve_all

    numbers = _numbers(msisdns)
    frame, _ = app.load_sessions(None, None, numbers)
    d = Path(out_dir) if out_dir else app.output_path("profiles")
    for m in numbers:
        if not (frame["msisdn"] == m).any():
            raise UsageError(f"no sessions for {m}", "run 'cdrnet dumps' to see what is loaded")
        names = None
        if rdns:
            ips = build_profile(frame, m, tz).destinations["dest_ip"].tolist()
            names, stats = resolve_all(ips, resolver, rdns_timeout, cache_path=app.output_path("rdns_cache.json"))
            click.echo(f"reverse DNS: {', '.join(f'{k} {v}' for k, v in sorted(stats.items()))}")
        paths = write_profile(frame, m, d, tz=tz, rdns=names)
        click.echo(profile_text(build_profile(frame, m, tz, rdns=names)), nl=False)
        click.echo(f"written: {', '.join(str(p) for p in paths)}\n")


@click.command("trends")
@click.argument("msisdns", nargs=-1)
@click.option("--app", "app_name", default="WhatsApp", show_default=True,
              help="Application (matches any app whose name contains it, and vendors).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the CSVs and charts [default: WORKSPACE/trends].")
@click.option("--tz", default="Asia/Kolkata", show_default=True, help="Zone for times and charts.")
@click.option("--pseudonymize", is_flag=True,
              help="Keyed tokens instead of numbers in files, file names and charts (key in CDRNET_PSEUDONYM_KEY).")
@click.pass_obj
def trends_cmd(app: AppContext, msisdns: tuple[str, ...], app_name: str, out_dir: str | None, tz: str,
               pseudonymize: bool) -> None:
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
    from cdrnet.analysis.trends import app_sessions, write_trends
    from cdrnet.cli.ingest import build_options

    build_options(tz, "91", "modern", ())  # validates --tz before any work
    numbers = _numbers(msisdns)
    show = None
    if pseudonymize:
        from cdrnet.pseudonym import pseudonymizer

        show = pseudonymizer("msisdn")
    frame, _ = app.load_sessions(None, None, None)
    if app_sessions(frame, app_name).empty:
        known = sorted(set(frame["app"].dropna()) - {""})
        raise UsageError(f"no sessions of an application matching '{app_name}'; applications in this case: "
                         f"{', '.join(known) if known else 'none identified'}", "")
    missing = sorted(set(numbers) - set(frame["msisdn"]))
    if missing:
        raise UsageError(f"no sessions for {', '.join(show(m) if show else m for m in missing)}",
                         "run 'cdrnet dumps' to see what is loaded")
    paths = write_trends(frame, numbers or None, Path(out_dir) if out_dir else app.output_path("trends"), app_name, tz,
                         show=show, notify=click.echo)
    if not paths:
        raise UsageError(f"nothing to write: no {app_name} sessions for the selected number(s)", "")
    for p in paths:
        click.echo(f"written {p}")


@click.command("map")
@link_options
@click.option("--out", "out", type=click.Path(dir_okay=False), default="map.html", show_default=True)
@click.option("--suspect", "suspects", multiple=True, help="Centre on this number (repeatable).")
@click.option("--hops", type=click.IntRange(1, 6), default=1, show_default=True, help="Ego network radius around suspects.")
@click.option("--title", default="cdrnet people network", show_default=True)
@click.option("--edges", "edges_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Use this edges.csv instead of linking again.")
@click.option("--format", "fmt", type=click.Choice(["html", "graphml", "gexf", "json"]), default="html", show_default=True)
@click.option("--pseudonymize", is_flag=True, help="Label nodes with keyed tokens (key in CDRNET_PSEUDONYM_KEY).")
@click.pass_obj
def map_cmd(app: AppContext, out: str, suspects: tuple[str, ...], hops: int, title: str, edges_file: str | None,
            fmt: str, pseudonymize: bool, **kw) -> None:
    """Interactive people-network map (offline HTML) or a graph file for Gephi.

    \b
    Examples:
      cdrnet map --out case42.html
      cdrnet map --suspect 919812345678 --hops 2 --min-score 5 --out ego.html
      cdrnet map --format graphml --out case42.graphml
    """
    from cdrnet.analysis.cousage import link
    from cdrnet.viz.netmap import MapOptions, export_graph, write_map

    params = build_params(**kw)
    frame, resolution = app.load_sessions(params.since, params.until, None)
    if edges_file:
        edges = pd.read_csv(edges_file, dtype={"a": str, "b": str})
    else:
        edges = link(frame, params, resolution, coverage=app.coverage()).edges
        for c in ("first_utc", "last_utc"):
            edges[c] = edges[c].dt.strftime("%Y-%m-%d %H:%M UTC")
    if pseudonymize:
        from cdrnet.pseudonym import pseudonymize_frame

        # Tokens replace numbers everywhere the page shows them: ids, labels, devices.
        ids = {"a": "msisdn", "b": "msisdn"}
        edges = pseudonymize_frame(edges, ids)
        frame = pseudonymize_frame(frame, {"msisdn": "msisdn", "imei": "imei", "imsi": "imsi"})
        from cdrnet.pseudonym import pseudonymizer

        tok = pseudonymizer("msisdn")
        suspects = tuple(tok(s) for s in _numbers(suspects))
    else:
        suspects = tuple(_numbers(suspects))
    opts = MapOptions(title=title, suspects=list(suspects), hops=hops, min_score=params.min_score,
                      params_text=f"window {params.window_s}s ({params.mode}), FDR {params.fdr:g}"
                      + (f", min score {params.min_score:g}" if params.min_score is not None else "")
                      + (f", apps {','.join(params.apps)}" if params.apps else ""))
    if fmt == "html":
        path = write_map(edges, frame, out, opts)
    else:
        path = export_graph(edges, frame, out, fmt, opts)
    click.echo(f"written {path}")
