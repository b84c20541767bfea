"""``link``, ``pair`` and ``evaluate``: who talks to whom, and how well we know it."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from cdrnet.analysis.cousage import LinkParams, LinkResult
from cdrnet.analysis.observed import MIN_COMMON_DAYS
from cdrnet.api import link_params, pair_from_files
from cdrnet.cli.common import PAIR_TZ_HELP, AppContext, date_order_option, input_options, zone_option
from cdrnet.clock import DEFAULT_TZ


def link_options(f):
    """Options that define a co-usage event and the score (shared by link and pair)."""
    opts = [
        click.option("--window", "window_s", type=click.IntRange(0, 86400), default=180, show_default=True,
                     help="Start times within this many seconds count as co-usage."),
        click.option("--mode", type=click.Choice(["start", "overlap"]), default="start", show_default=True,
                     help="'start': starts within the window; 'overlap': the two sessions overlap in time."),
        click.option("--burst-gap", "burst_gap_s", type=click.IntRange(0, 86400), default=None,
                     help="Merge a subscriber's sessions starting within this gap into one episode "
                          "[default: the window]."),
        click.option("--tight-window", "tight_window_s", type=click.IntRange(0, 86400), default=30, show_default=True,
                     help="Second, tighter scale for replies read at once."),
        click.option("--call-window", "call_window_s", type=click.IntRange(0, 600), default=5, show_default=True,
                     help="Call signature: both UDP flows to one relay start within this many seconds."),
        click.option("--no-calls", is_flag=True, help="Ignore call signatures."),
        click.option("--no-colocation", is_flag=True,
                     help="Ignore co-location (same cell: IPDR sessions and the subscribers' own CDR calls)."),
        click.option("--score-colocation", is_flag=True,
                     help="Let co-location raise the score too (it is always counted; see docs/co-usage.md)."),
        click.option("--apps", default=None, help="Only these services/apps, comma separated (e.g. Meta,Telegram)."),
        click.option("--since", default=None, metavar="TIME",
                     help="Only sessions from this time: ISO date or time (2024-03-05, 2024-03-05T18:00), read in "
                          "the case's zone (--tz) unless it carries an offset (Z, +05:30)."),
        click.option("--until", default=None, metavar="TIME",
                     help="Only sessions before this time (read like --since)."),
        click.option("--fdr", type=click.FloatRange(0, 1, min_open=True), default=0.05, show_default=True,
                     help="False discovery rate for marking a pair as a link."),
        click.option("--min-score", type=float, default=None, help="Also require at least this score for a link."),
        click.option("--min-events", type=click.IntRange(0), default=2, show_default=True,
                     help="A link needs at least this many co-usage episodes (or a call signature)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def build_params(tz: str, window_s: int, mode: str, burst_gap_s: int | None, tight_window_s: int, call_window_s: int,
                 no_calls: bool, no_colocation: bool, score_colocation: bool, apps: str | None, since: str | None,
                 until: str | None, fdr: float, min_score: float | None, min_events: int) -> LinkParams:
    """LinkParams from the shared link options (the option names differ from the fields only for switches);
    a textual --since/--until without an offset is read in ``tz``, the case's zone."""
    return link_params(tz=tz, window_s=window_s, mode=mode, burst_gap_s=burst_gap_s, tight_window_s=tight_window_s,
                       call_window_s=call_window_s, calls=not no_calls, colocation=not no_colocation,
                       score_colocation=score_colocation, apps=apps, since=since, until=until, fdr=fdr,
                       min_score=min_score, min_events=min_events)


#: Link options whose CLI name says the opposite of the LinkParams field (switches).
_SWITCHES = {"no_calls": "calls", "no_colocation": "colocation"}


def given_link_options(kw: dict, tz: str = "UTC") -> dict:
    """The link options typed on the command line (or set in the environment), as LinkParams fields.

    Outputs draw the case's current network; only options an analyst actually gave
    change it (and make the output re-link, saying so), never the options' defaults.
    """
    from cdrnet.api import link_overrides

    ctx = click.get_current_context()
    typed = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    out = {}
    for name, value in kw.items():
        if ctx.get_parameter_source(name) in typed:
            out[_SWITCHES.get(name, name)] = (not value) if name in _SWITCHES else value
    return link_overrides(tz, **out)


def print_link_summary(res: LinkResult, out: Path, shown: pd.DataFrame | None = None) -> None:
    """What the run did, then the top links; ``shown`` is the edge table as written (pseudonymised or not)."""
    e = res.edges if shown is None else shown
    p = res.params
    links = int(e["link"].sum()) if len(e) else 0
    sessions = f"{res.sessions:,} sessions" if res.sessions >= 0 else "sessions in Neo4j"
    click.echo(f"{res.subscribers:,} subscribers, {sessions}; window {p.window_s}s ({p.mode}), "
               f"episode gap {p.gap}s, tight window {p.tight_window_s}s, call window {p.call_window_s}s")
    click.echo(f"{len(e):,} pairs with any co-usage; {links:,} links at FDR {p.fdr:g}"
               + (f" and score >= {p.min_score:g}" if p.min_score is not None else ""))
    total = res.subscribers * (res.subscribers - 1) // 2
    click.echo(f"each pair is scored on the days both were observed (their dumps' periods): {res.testable_pairs:,} of "
               f"{total:,} pairs share at least {MIN_COMMON_DAYS} days")
    if res.unscored_pairs:
        click.echo(f"note: {res.unscored_pairs:,} pair(s) with co-usage were observed together on fewer than "
                   f"{MIN_COMMON_DAYS} days and are not scored (nothing to compare them with)")
    if res.coverage is not None and len(res.coverage.periods):
        from_rows = res.coverage.periods.loc[res.coverage.periods["source"] == "rows", "sha256"].nunique()
        if from_rows:
            click.echo(f"note: {from_rows} dump(s) state no requested period; the span of their rows stands in")
    for name, st in res.sweep.items():
        if st.units and st.chunks:
            click.echo(f"  {name}: {st.units:,} episodes, {st.candidate_pairs:,} candidate pairs in {st.chunks:,} "
                       f"chunk(s), busiest window {st.hottest_window:,} episodes")
        elif st.units:
            click.echo(f"  {name}: {st.units:,} episodes, {st.candidate_pairs:,} co-usage events")
    if res.coarse_subscribers:
        worst = max(r for _, r in res.coarse_subscribers)
        click.echo(f"warning: {len(res.coarse_subscribers)} subscriber(s) have timestamps coarser than the "
                   f"{p.window_s}s window (up to {worst}s: PDP-session or allocation times); their edges say "
                   "coarse_time=True and their counts are less reliable", err=True)
    if not len(e):
        click.echo("no pair has any co-usage evidence: no links (the edges file holds its header only)")
    top = e[e["link"]].head(10) if len(e) else e
    for r in top.itertuples(index=False):
        click.echo(f"  {r.a} -- {r.b}  score {r.score:.1f}  messaging {r.messaging_obs} (exp {r.messaging_exp:.1f}) "
                   f"calls {r.call_obs} coloc {r.coloc_obs}  {r.services}")
    if res.steps:
        click.echo("  Neo4j time by step: " + ", ".join(f"{k} {v:.1f}s" for k, v in res.steps.items()))
    click.echo(f"edges written to {out} ({res.seconds:.2f}s)")


@click.command("link")
@link_options
@click.option("--subscribers", "subscribers_file", type=click.Path(exists=True, dir_okay=False),
              help="Only these subscribers (one MSISDN per line).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Where to write edges.csv [default: WORKSPACE/edges.csv].")
@click.option("--pseudonymize", is_flag=True,
              help="Write keyed tokens instead of numbers (key in CDRNET_PSEUDONYM_KEY).")
@click.option("--possible-apps", is_flag=True,
              help="Count low-confidence labels such as 'XMPP (WhatsApp possible)' as messaging (workspace only).")
@zone_option("Zone of --since/--until without an offset [default: the case's zone, the one its dumps were "
             "ingested in]; edges.csv keeps UTC (first_utc, last_utc).")
@click.pass_obj
def link_cmd(app: AppContext, subscribers_file: str | None, out: str | None, pseudonymize: bool, possible_apps: bool,
             tz: str | None, **kw) -> None:
    """Score every pair of loaded subscribers for co-usage beyond chance; write edges.csv.

    One row per pair with any evidence: a, b, score (-log10 p), p and q values,
    whether it is a link, then messaging / call-signature / co-location counts
    with their expected counts, services, first/last time and the parameters.

    With --neo4j the first run after a Bolt load (ingest) also stores each
    subscriber's co-usage units in the graph (CoUsageUnits nodes; neo4j-import
    writes them itself); later runs read them instead of every session
    (docs/co-usage.md).

    \b
    Examples:
      cdrnet link
      cdrnet link --window 120 --apps Meta,Telegram --out case42_edges.csv
      cdrnet link --since 2024-03-01 --until 2024-03-15 --fdr 0.01   # days on the case's clock
    """
    subs = Path(subscribers_file).read_text(encoding="utf-8").split() if subscribers_file else None
    case = app.open()
    if app.nothing_loaded(case, "link"):
        return
    run = case.run_link(build_params(case.zone_or_case(tz), **kw), subs, out, pseudonymize,
                        possible_apps=possible_apps)
    for note in run.notes:
        click.echo(note)
    print_link_summary(run.result, run.path, run.table)


#: Instances listed on screen by ``pair``; the rest are in the CSV (real pairs have thousands).
PAIR_SCREEN_INSTANCES = 20


@click.command("pair")
@click.argument("a")
@click.argument("b")
@link_options
@input_options(tz_help=PAIR_TZ_HELP, tz_default=None)
@click.option("--all-apps", is_flag=True, help="List every identified application, as the paper did (HTTPS too).")
@click.option("--out", "--out-dir", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for pair_A_B.csv (every instance) and pair_A_B.txt (the full report) "
                   "[default: WORKSPACE/pairs, for two dump files too].")
@click.pass_obj
def pair_cmd(app: AppContext, a: str, b: str, all_apps: bool, out_dir: str | None, layout_file: str | None,
             tz: str | None, country_code: str, signatures: str, extra_signatures: tuple[str, ...], **kw) -> None:
    """The paper's correlation report for two subscribers (MSISDNs or two dump files).

    The screen shows the first 20 instances, the summary and the score; every
    instance goes to pair_A_B.csv and the full report to pair_A_B.txt, whose paths
    are printed. Two dump files are read directly (nothing is loaded into the
    workspace); their report still goes to WORKSPACE/pairs unless --out is given.

    \b
    Examples:
      cdrnet pair 919812345678 919887654321
      cdrnet pair suspect1.csv suspect2.csv --window 120 --out reports/
    """
    if Path(a).is_file() and Path(b).is_file():
        app.announce(f"store: none (reading {a} and {b} directly; outputs in {Path(app.workspace).resolve()})")
        tz = tz or DEFAULT_TZ
        rep = pair_from_files(a, b, layout_file, all_apps, tz, country_code=country_code, signatures=signatures,
                              extra_signatures=extra_signatures, date_order=date_order_option(),
                              params=build_params(tz, **kw))
        folder = Path(out_dir) if out_dir else Path(app.workspace) / "pairs"
    else:
        case = app.open()
        tz = case.zone_or_case(tz)
        rep = case.pair(a, b, all_apps, tz, params=build_params(tz, **kw))
        folder = Path(out_dir) if out_dir else case.output("pairs")
    csv, txt = rep.write(folder)
    click.echo(rep.text(limit=PAIR_SCREEN_INSTANCES, full_list=csv), nl=False)
    click.echo(f"written {csv}")
    click.echo(f"written {txt}")
