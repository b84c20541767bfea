"""``simulate`` and ``demo``: synthetic cases with planted links, and the end-to-end showcase."""

from __future__ import annotations

import time
from dataclasses import fields, replace
from pathlib import Path

import click

from cdrnet.cli.common import AppContext
from cdrnet.errors import UsageError
from cdrnet.synth.scenario import LAYOUTS, PRESETS, Scenario, build_scenario


def _parse_sets(items: tuple[str, ...]) -> dict[str, object]:
    types = {f.name: f.type for f in fields(Scenario)}
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types:
            raise UsageError(f"--set {item}: expected NAME=VALUE with NAME one of {', '.join(sorted(types))}")
        kind = str(types[key])
        try:
            if kind == "bool":
                out[key] = value.strip().lower() in ("1", "true", "yes", "on")
            elif kind == "int":
                out[key] = int(value)
            elif kind == "float":
                out[key] = float(value)
            else:
                out[key] = value
        except ValueError as exc:
            raise UsageError(f"--set {item}: '{value}' is not a valid {kind}") from exc
    return out


@click.command("simulate")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--scenario", type=click.Choice(sorted(PRESETS)), default="easy", show_default=True, help="Named preset.")
@click.option("--subscribers", type=click.IntRange(2), default=None, help="Number of subscribers (one dump each).")
@click.option("--days", type=click.IntRange(1), default=None, help="Days of data.")
@click.option("--rows", type=click.IntRange(1), default=None, help="Aim for about this many sessions (sets --days).")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same bytes).")
@click.option("--layout", type=click.Choice(list(LAYOUTS)), default=None,
              help="Operator layout of the dumps (one layout; realistic mixes them, see --set layout_mix=...).")
@click.option("--malformed-share", type=click.FloatRange(0, 1), default=None, help="Share of data lines to damage.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Any scenario parameter, e.g. --set push=false --set heavy_share=0.2 (see scenario.json).")
@click.pass_obj
def simulate_cmd(app: AppContext, out_dir: str, scenario: str, subscribers: int | None, days: int | None,
                 rows: int | None, seed: int | None, layout: str | None, malformed_share: float | None,
                 sets: tuple[str, ...]) -> None:
    """Write a synthetic case: IPDR dumps per subscriber plus truth.csv and scenario.json.

    Dumps go to OUT_DIR/dumps/ in the operators' real layouts (preamble stating the
    requested period, footer, time format and timestamp granularity included);
    truth.csv lists the planted pairs (a,b,kind with kind chat, group or call);
    scenario.json records every parameter and each dump's layout and period.

    Scenario realistic is a real case's shape: every dump has its own requested
    period (some subscribers two, some from another year, one of a few hours),
    layouts are mixed (Jio in part files, Airtel with record-level end times and
    volumes, Excel re-saved Airtel with month-first dates without seconds, Vi, the
    paper's). realistic_flat writes the same people and events in one layout over
    one shared period (same as --scenario realistic --set mixed=false).

    Scenarios calls and realistic_calls add call records to easy and realistic: a
    voice/SMS CDR per subscriber (the layout of its operator) and tower dumps of the
    busiest cells (--set cdrs=true adds them to any scenario). Planted pairs also call
    and text sometimes, some never do (contacts_truth.csv lists those that do);
    everyone calls numbers outside the case. The IPDR dumps are the same bytes either way.

    --set resent_dumps=N adds operators' re-sends: N IPDR files sent again as
    NAME_resent.csv, their later half of rows with every fourth row's cell corrected
    (the same sessions: every store keeps the copy of the dump ingested first).

    \b
    Examples:
      cdrnet simulate case/ --scenario hard
      cdrnet simulate real/ --scenario realistic --seed 11
      cdrnet simulate big/ --subscribers 1000 --rows 10000000 --layout jio
      cdrnet simulate quiet/ --set push=false --set background=false
      cdrnet simulate resent/ --scenario realistic --set resent_dumps=3
    """
    from cdrnet.synth.simulate import days_for_rows, simulate

    options = {"subscribers": subscribers, "days": days, "seed": seed, "layout": layout,
               "malformed_share": malformed_share}
    # Named options win over the same parameter given with --set.
    sc = build_scenario(scenario, **{**_parse_sets(sets), **{k: v for k, v in options.items() if v is not None}})
    if rows:
        sc = replace(sc, days=days_for_rows(sc, rows))
    t0 = time.perf_counter()

    def progress(day: int, total_days: int, sessions: int) -> None:
        if not app.quiet:
            click.echo(f"\r  day {day}/{total_days}: {sessions} sessions", nl=False, err=True)

    summary = simulate(sc, out_dir, progress)
    if not app.quiet:
        click.echo("", err=True)
    layouts = ", ".join(f"{k} {v}" for k, v in summary["layouts"].items()) if sc.mixed else f"{sc.layout} layout"
    click.echo(f"{summary['sessions']} sessions for {sc.subscribers} subscribers over {sc.days} days "
               f"(scenario {sc.name}, seed {sc.seed}) in {time.perf_counter() - t0:.1f}s")
    click.echo(f"{len(summary['dumps'])} dumps in {len(summary['files'])} files ({layouts})"
               + (", each with its own requested period" if sc.mixed else ""))
    click.echo(f"{summary['true_pairs']} planted pairs {summary['truth_kinds']}, "
               f"{summary['true_pairs_common_days_2plus']} of them requested together for 2+ days: "
               f"{Path(out_dir) / 'truth.csv'}")
    calls = summary.get("call_records")
    if calls:
        click.echo(f"call records: {len(calls['cdr_files'])} voice/SMS CDRs and {len(calls['tower_dumps'])} tower "
                   f"dump(s), {calls['calls']} calls and {calls['sms']} SMS; {calls['planted_pairs_calling']} planted "
                   f"pair(s) call or text, {calls['planted_pairs_never_calling']} never do: "
                   f"{Path(out_dir) / 'contacts_truth.csv'}")
    resent = summary.get("resent")
    if resent:
        click.echo(f"re-sent: {len(resent)} file(s) sent again with {sum(r['cells_changed'] for r in resent)} "
                   "corrected cell(s): " + ", ".join(Path(r["file"]).name for r in resent))
    click.echo(f"dumps in {Path(out_dir) / 'dumps'}; parameters in {Path(out_dir) / 'scenario.json'}")
