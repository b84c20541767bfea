"""``evaluate``: how well an edges file ranks the planted pairs of a simulated case.

Only pairs observed together for at least two days are ranked: a real case mixes
dumps requested for different periods, and a pair whose dumps share no time cannot
show co-usage whatever the engine does. Counting such pairs as misses would measure
the request, not the method; the command says how many pairs it left out and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
import pandas as pd

from cdrnet.cli.common import AppContext
from cdrnet.csvsafe import write_csv
from cdrnet.errors import UsageError

if TYPE_CHECKING:
    from cdrnet.api import Case


@click.command("evaluate")
@click.argument("edges_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--truth", "truth_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="truth.csv with columns a,b[,kind] (a simulated case's planted pairs). Without it, a case "
                   "with call records is checked against its direct contacts.")
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

    Where the case holds call records, the links are also checked against the direct
    contacts (calls, SMS) between its subscribers: how many links are direct contacts,
    how many direct contacts are links, and the same ranking metrics with direct
    contacts as labels. Real cases have no planted truth; this is the check they have
    (direct contacts are not the truth: people who chat on encrypted apps need never call).

    Every pair of loaded subscribers observed together for at least
    --min-common-days days (their dumps' requested periods overlap on that many
    calendar days) is ranked; pairs missing from the file rank last. Pairs with
    less common time are left out, and the output says how many.

    \b
    Examples:
      cdrnet evaluate --truth case/truth.csv cdrnet-workspace/edges.csv
      cdrnet evaluate --truth case/truth.csv --min-common-days 0 edges.csv   # every pair
      cdrnet evaluate cdrnet-workspace/edges.csv      # a real case: links vs direct contacts
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

    edges = pd.read_csv(edges_file, dtype={"a": str, "b": str})
    if not {"a", "b", "score"} <= set(edges.columns):
        raise UsageError(f"{edges_file} must have columns a,b,score")
    case = app.open()
    if truth_file is None and not case.has_calls():
        raise UsageError("nothing to evaluate against: no --truth file and no call records in the case",
                         "pass --truth truth.csv (a simulated case), or ingest the subscribers' voice/SMS CDRs")
    frame = case.sessions()
    subs = sorted(frame["msisdn"].unique())
    coverage = case.store.coverage()
    if tz:
        coverage = Coverage(coverage.periods, tz, coverage.scopes, coverage.resolution, coverage.call_periods,
                            coverage.towers)
    a, b = all_pairs(subs)
    common = pairs_common_days(a, b, coverage, frame)
    keep = common >= min_common_days
    if case.has_calls():
        _against_contacts(case, edges, subs, keep)
    if truth_file is None:
        return
    truth = pd.read_csv(truth_file, dtype=str)
    if not {"a", "b"} <= set(truth.columns):
        raise UsageError(f"{truth_file} must have columns a,b")
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


def _against_contacts(case: Case, edges: pd.DataFrame, subs: list[str], keep: np.ndarray) -> None:
    """Print how the links agree with the direct contacts between the ranked subscribers."""
    from cdrnet.analysis.metrics import evaluate, rank_all_pairs
    from cdrnet.analysis.network import agreement, contact_pairs

    contacts = contact_pairs(case.called(), subs)
    if "link" not in edges:
        edges = edges.assign(link=False)
    a = agreement(edges, contacts)
    click.echo(f"against direct contacts (call records): {a['links']} link(s), {a['direct_pairs']} direct-contact "
               f"pair(s) between these subscribers, {a['both']} both; {a['links_with_contact']:.0%} of links are "
               f"direct contacts, {a['contacts_linked']:.0%} of direct contacts are links")
    if a["direct_pairs"]:
        m = evaluate(*rank_all_pairs(edges, subs, contacts, eligible=keep))
        click.echo(f"  ranking with direct contacts as labels: AP {m['ap']:.3f}, ROC-AUC {m['roc_auc']:.3f} "
                   "(direct contacts are not the truth: chat-only pairs never call)")
