"""``demo``: the README's main job, end to end on a bare laptop (no server)."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from cdrnet.cli.common import AppContext


@click.command("demo")
@click.argument("out_dir", type=click.Path(file_okay=False), default="cdrnet-demo", required=False)
@click.option("--scenario", type=click.Choice(["easy", "hard"]), default="easy", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_obj
def demo_cmd(app: AppContext, out_dir: str, scenario: str, seed: int) -> None:
    """Simulate a small case, ingest it, link it, and write the link table, map, profiles and charts.

    \b
    Example:
      cdrnet demo            # writes ./cdrnet-demo/
    """
    from cdrnet.analysis.baseline import paper_edges
    from cdrnet.analysis.cousage import LinkParams, link
    from cdrnet.analysis.metrics import evaluate, rank_all_pairs
    from cdrnet.analysis.observed import Coverage
    from cdrnet.cli.link import format_edges
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate
    from cdrnet.workspace import Workspace

    t0 = time.perf_counter()
    out = Path(out_dir)
    case = out / "case"
    app.announce(f"store: workspace {(out / 'workspace').resolve()} (the demo's own case, not --workspace)")
    sc = build_scenario(scenario, seed=seed, subscribers=40 if scenario == "easy" else None)
    summary = simulate(sc, case)
    click.echo(f"1. simulated {summary['sessions']} sessions of {sc.subscribers} subscribers over {sc.days} days "
               f"with {summary['true_pairs']} planted links -> {case}")
    ws = Workspace(out / "workspace").create()
    res = ingest_paths([str(case / "dumps")], ws, builtin_layouts(), Options(rules=load_signatures("modern")),
                       "modern", show_progress=not app.quiet)
    loaded = sum(r.loaded for r in res.loaded)
    click.echo(f"2. ingested {len(res.loaded) + len(res.unchanged)} dumps ({loaded} new sessions) -> {ws.root}")
    frame = ws.sessions()
    result = link(frame, LinkParams(), coverage=Coverage.from_reports(ws.reports()))
    edges_path = out / "edges.csv"
    format_edges(result.edges).to_csv(edges_path, index=False)
    n_links = int(result.edges["link"].sum())
    click.echo(f"3. scored {len(result.edges)} pairs, {n_links} links at FDR 0.05 -> {edges_path}")
    truth = pd.read_csv(case / "truth.csv", dtype=str)
    subs = sorted(frame["msisdn"].unique())
    ours = evaluate(*rank_all_pairs(result.edges, subs, truth))
    paper = evaluate(*rank_all_pairs(paper_edges(frame), subs, truth))
    click.echo(f"4. against the planted truth: AP {ours['ap']:.3f} (paper's method {paper['ap']:.3f}), "
               f"ROC-AUC {ours['roc_auc']:.3f} ({paper['roc_auc']:.3f})")
    for path in _extras(out, frame, result):
        click.echo(f"   {path}")
    click.echo(f"done in {time.perf_counter() - t0:.1f}s; open {out / 'map.html'} in a browser" if (out / "map.html").exists()
               else f"done in {time.perf_counter() - t0:.1f}s")


def _extras(out: Path, frame: pd.DataFrame, result) -> list[Path]:
    """Outputs from the reporting stages (map, profiles, trends)."""
    from cdrnet.viz.netmap import MapOptions, write_map

    written: list[Path] = []
    p = result.params
    written.append(write_map(result.edges, frame, out / "map.html", MapOptions(
        title="cdrnet demo case", params_text=f"window {p.window_s}s ({p.mode}), FDR {p.fdr:g}; synthetic data")))
    linked = result.edges[result.edges["link"]]
    if len(linked):
        from cdrnet.analysis.profile import write_profile
        from cdrnet.analysis.trends import write_trends

        top = [linked.iloc[0]["a"], linked.iloc[0]["b"]]
        for m in top:
            written.extend(write_profile(frame, m, out / "profiles", tz="Asia/Kolkata"))
        written.extend(write_trends(frame, top, out / "trends", app="WhatsApp", tz="Asia/Kolkata"))
    return written
