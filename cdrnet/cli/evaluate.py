"""``evaluate``: how well an edges file ranks the planted pairs of a simulated case.

Only pairs observed together for at least two days are ranked: a real case mixes
dumps requested for different periods, and a pair whose dumps share no time cannot
show co-usage whatever the engine does. Counting such pairs as misses would measure
the request, not the method; the command says how many pairs it left out and why.
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from cdrnet.cli.common import AppContext
from cdrnet.csvsafe import write_csv
from cdrnet.errors import UsageError


@click.command("evaluate")
@click.argument("edges_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--truth", "truth_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="truth.csv with columns a,b[,kind].")
@click.option("--baseline", type=click.Choice(["paper", "none"]), default="paper", show_default=True,
              help="Also run the paper's method on the same sessions.")
@click.option("--window", "window_s", type=int, default=180, show_default=True, help="Window for the baseline.")
@click.option("--min-common-days", type=click.IntRange(0), default=2, show_default=True,
              help="Rank only pairs whose dumps' periods share at least this many local calendar days.")
@click.option("--tz", default=None, help="Zone whose calendar days count [default: the zone the dumps were read in].")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the metrics as CSV here.")
@click.pass_obj
def evaluate_cmd(app: AppContext, edges_file: str, truth_file: str, baseline: str, window_s: int,
                 min_common_days: int, tz: str | None, out: str | None) -> None:
    """Measure how well EDGES_FILE ranks the true pairs: AP, ROC-AUC, precision@k, recall at FDR.

    Every pair of loaded subscribers observed together for at least
    --min-common-days days (their dumps' requested periods overlap on that many
    calendar days) is ranked; pairs missing from the file rank last. Pairs with
    less common time are left out, and the output says how many.

    \b
    Examples:
      cdrnet evaluate --truth case/truth.csv cdrnet-workspace/edges.csv
      cdrnet evaluate --truth case/truth.csv --min-common-days 0 edges.csv   # every pair
    """
    from cdrnet.analysis.baseline import paper_edges
    from cdrnet.analysis.metrics import (
        all_pairs,
        evaluate,
        observed_together,
        pairs_common_days,
        rank_all_pairs,
    )
    from cdrnet.analysis.observed import Coverage

    truth = pd.read_csv(truth_file, dtype=str)
    if not {"a", "b"} <= set(truth.columns):
        raise UsageError(f"{truth_file} must have columns a,b")
    edges = pd.read_csv(edges_file, dtype={"a": str, "b": str})
    if not {"a", "b", "score"} <= set(edges.columns):
        raise UsageError(f"{edges_file} must have columns a,b,score")
    case = app.open()
    frame = case.sessions()
    subs = sorted(frame["msisdn"].unique())
    coverage = case.store.coverage()
    if tz:
        coverage = Coverage(coverage.periods, tz, coverage.scopes, coverage.resolution)
    a, b = all_pairs(subs)
    common = pairs_common_days(a, b, coverage, frame)
    keep = common >= min_common_days
    kept = observed_together(subs, truth, common, min_common_days)
    rows = [{"method": "cdrnet", **evaluate(*rank_all_pairs(edges, subs, truth, eligible=keep))}]
    if baseline == "paper":
        rows.append({"method": f"paper (same port, {window_s}s, raw count)",
                     **evaluate(*rank_all_pairs(paper_edges(frame, window_s), subs, truth, eligible=keep))})
    table = pd.DataFrame(rows)
    click.echo(f"{len(subs)} subscribers; ranking only the {kept['pairs_kept']} of {kept['pairs_all']} pairs observed "
               f"together for at least {min_common_days} day(s), "
               f"with {kept['true_kept']} of {kept['true_all']} true pairs")
    left = kept["true_all"] - kept["true_kept"]
    if left:
        click.echo(f"  {left} true pair(s) left out: their dumps share fewer than {min_common_days} day(s), "
                   f"so no method could see them together")
    click.echo(table.drop(columns=["pairs", "true_pairs"]).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if out:
        write_csv(table.assign(min_common_days=min_common_days), out)
        click.echo(f"written to {Path(out)}")
