"""``evidence``: everything behind one link, for checking by hand."""

from __future__ import annotations

import click

from cdrnet.cli.common import SELECT_TZ_HELP, AppContext, zone_option
from cdrnet.cli.link import given_link_options, link_options


@click.command("evidence")
@click.argument("a")
@click.argument("b")
@link_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for evidence_A_B.csv and .html [default: WORKSPACE/evidence].")
@click.option("--pseudonymize", is_flag=True, help="Replace numbers by keyed tokens (key in CDRNET_PSEUDONYM_KEY).")
@zone_option(SELECT_TZ_HELP)
@click.pass_obj
def evidence_cmd(app: AppContext, a: str, b: str, out_dir: str | None, pseudonymize: bool, tz: str | None,
                 **kw) -> None:
    """Export the parameters, scores and every supporting session of the pair A--B (CSV and printable HTML).

    The pair is judged in the case's current network: the latest 'cdrnet link' run
    and its parameters. Link options given here that differ from that run re-link
    the case now (nothing is stored), and the first lines say so. The page says
    whether the pair is a link (q-value, FDR, flag); it is titled "Evidence for the
    link" only when it is one. Times are in the case's zone (a_start, b_start and the
    zone column); the CSV keeps UTC in a_start_utc, b_start_utc.

    \b
    Examples:
      cdrnet evidence 919812345678 919887654321
      cdrnet evidence 919812345678 919887654321 --window 120 --out court/
    """
    from cdrnet.analysis.evidence import link_status

    case = app.open()
    tz = case.zone_or_case(tz)
    ev, paths = case.evidence(a, b, out_dir, pseudonymize, overrides=given_link_options(kw, tz), tz=tz)
    click.echo(ev.network_note)
    score = f"score {ev.edge['score']:.2f} (p = {ev.edge['p_value']:.3g})" if ev.edge is not None else "no co-usage"
    is_link, why = link_status(ev)
    click.echo(f"{ev.a} -- {ev.b}: {score}, {len(ev.events)} supporting events; "
               f"{'a link' if is_link else 'not a link'} ({why})")
    for p in paths:
        click.echo(f"written {p}")
