"""``demo``: the README's main job, end to end on a bare laptop (no server)."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from cdrnet.api import Case, link_params
from cdrnet.cli.common import AppContext


@click.command("demo")
@click.argument("out_dir", type=click.Path(file_okay=False), default="cdrnet-demo", required=False)
@click.option("--scenario", type=click.Choice(["easy", "hard"]), default="easy", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_obj
def demo_cmd(app: AppContext, out_dir: str, scenario: str, seed: int) -> None:
    """Simulate a small case, ingest it, link it, and write the link table, map, summary page, Excel report,
    profiles and charts.

    \b
    Example:
      cdrnet demo            # writes ./cdrnet-demo/
    """
    from cdrnet.analysis.baseline import paper_edges
    from cdrnet.analysis.metrics import evaluate, rank_all_pairs
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate

    t0 = time.perf_counter()
    out = Path(out_dir)
    sim = out / "case"
    app.announce(f"store: workspace {(out / 'workspace').resolve()} (the demo's own case, not --workspace)")
    sc = build_scenario(scenario, seed=seed, subscribers=40 if scenario == "easy" else None)
    summary = simulate(sc, sim)
    click.echo(f"1. simulated {summary['sessions']:,} sessions of {sc.subscribers} subscribers over {sc.days} days "
               f"with {summary['true_pairs']} planted links -> {sim}")
    case = Case(workspace=out / "workspace")
    res = case.ingest([sim / "dumps"], progress=not app.quiet)
    loaded = sum(r.loaded for r in res.loaded)
    dumps = len(res.loaded) + len(res.unchanged)
    click.echo(f"2. ingested {dumps} dumps ({loaded:,} new sessions) -> {case.workspace}")
    frame = case.sessions()
    run = case.run_link(link_params(), out=out / "edges.csv")
    result = run.result
    n_links = int(result.edges["link"].sum())
    click.echo(f"3. scored {len(result.edges):,} pairs, {n_links:,} links at FDR 0.05 -> {run.path}")
    truth = pd.read_csv(sim / "truth.csv", dtype=str)
    subs = sorted(frame["msisdn"].unique())
    ours = evaluate(*rank_all_pairs(result.edges, subs, truth))
    paper = evaluate(*rank_all_pairs(paper_edges(frame), subs, truth))
    click.echo(f"4. against the planted truth: AP {ours['ap']:.3f} (paper's method {paper['ap']:.3f}), "
               f"ROC-AUC {ours['roc_auc']:.3f} ({paper['roc_auc']:.3f})")
    for path in _extras(out, case, result.edges):
        click.echo(f"   {path}")
    click.echo(f"done in {time.perf_counter() - t0:.1f}s; open {out / 'map.html'} in a browser"
               if (out / "map.html").exists()
               else f"done in {time.perf_counter() - t0:.1f}s")


def _extras(out: Path, case: Case, edges: pd.DataFrame) -> list[Path]:
    """Outputs from the reporting stages (map, profiles, trends), through the same API as the commands."""
    written = [case.write_map(out / "map.html", title="cdrnet demo case (synthetic data)")]
    summary = case.overview()
    written += [case.write_summary(summary, out / "summary.html"), case.write_report(out / "report.xlsx", summary)]
    linked = edges[edges["link"]]
    if len(linked):
        top = [linked.iloc[0]["a"], linked.iloc[0]["b"]]
        for m in top:
            written.extend(case.write_profile(m, out / "profiles"))
        written.extend(case.trends(top, app="WhatsApp", out_dir=out / "trends"))
    return written
