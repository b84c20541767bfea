"""``evidence``: everything behind one link, for checking by hand."""

from __future__ import annotations

from pathlib import Path

import click

from cdrnet.cli.common import AppContext
from cdrnet.cli.link import build_params, link_options


@click.command("evidence")
@click.argument("a")
@click.argument("b")
@link_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for evidence_A_B.csv and .html [default: WORKSPACE/evidence].")
@click.option("--pseudonymize", is_flag=True, help="Replace numbers by keyed tokens (key in CDRNET_PSEUDONYM_KEY).")
@click.pass_obj
def evidence_cmd(app: AppContext, a: str, b: str, out_dir: str | None, pseudonymize: bool, **kw) -> None:
    """Export the parameters, scores and every supporting session of the link A--B (CSV and printable HTML).

    \b
    Examples:
      cdrnet evidence 919812345678 919887654321
      cdrnet evidence 919812345678 919887654321 --window 120 --out court/
    """
    from cdrnet.analysis.evidence import build_evidence, write_evidence
    from cdrnet.cli.report import _numbers
    from cdrnet.errors import UsageError

    params = build_params(**kw)
    na, nb = _numbers((a, b))
    frame, _ = app.load_sessions(params.since, params.until, [na, nb])
    missing = [m for m in (na, nb) if m not in set(frame["msisdn"])]
    if missing:
        raise UsageError(f"no sessions for {', '.join(missing)}", "run 'cdrnet dumps' to see what is loaded")
    files = {r.sha256: r.name for r in app.store().reports()}
    ev = build_evidence(frame, na, nb, params, files, coverage=app.coverage())
    if pseudonymize:
        from cdrnet.pseudonym import pseudonymize_frame, pseudonymizer

        tok = pseudonymizer("msisdn")
        ev.events = pseudonymize_frame(ev.events, {"a": "msisdn", "b": "msisdn"}).drop(columns=["a_file", "b_file"])
        ev.a, ev.b = tok(ev.a), tok(ev.b)
    title = f"Evidence for the link {ev.a} -- {ev.b}"
    paths = write_evidence(ev, Path(out_dir) if out_dir else app.output_path("evidence"), title)
    score = f"score {ev.edge['score']:.2f} (p = {ev.edge['p_value']:.3g})" if ev.edge is not None else "no co-usage"
    click.echo(f"{ev.a} -- {ev.b}: {score}, {len(ev.events)} supporting events")
    for p in paths:
        click.echo(f"written {p}")
