"""The paper's correlation report for two subscribers (its Figure 3), with our score.

Instances are session pairs (one of each subscriber) on the same service whose
start times differ by at most the window, exactly as the paper lists them;
the summary adds the score and expected count from the co-usage engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cdrnet.analysis.cousage import LinkParams, link
from cdrnet.analysis.display import ports
from cdrnet.analysis.observed import MIN_COMMON_DAYS, Coverage
from cdrnet.analysis.sweep import window_pairs
from cdrnet.analysis.units import epoch_seconds, messaging_sessions, service_of
from cdrnet.csvsafe import write_csv

INSTANCE_COLUMNS = ["application", "port", "number1", "date1", "start1", "end1", "number2", "date2", "start2", "end2",
                    "delta_s", "session_key1", "session_key2"]


@dataclass
class PairReport:
    """Instances plus the summary figures of the paper's report."""

    a: str
    b: str
    instances: pd.DataFrame
    per_app: pd.DataFrame
    total_sessions: int
    sessions_a: int
    sessions_b: int
    seconds: float
    edge: pd.Series | None
    params: LinkParams
    tz: str
    #: Local calendar days both numbers were observed (their dumps' periods); scores need two.
    common_days: int = 0

    def text(self, limit: int | None = None, full_list: str | Path | None = None) -> str:
        """The paper's report for people: integer ports (``n/a`` when the layout has none), counts 1,234.

        With ``limit`` only the first instances are listed and one line says how many more are in
        ``full_list``: a busy pair on real data has thousands of near-identical lines, which bury
        the summary and score an analyst actually reads.
        """
        from cdrnet.analysis.display import count

        p = self.params
        lines = [f"Found the following numbers that were using the same application within {p.window_s} seconds "
                 "of each other",
                 "\t".join(["Application", "Port", "Number1", "Date", "Start Time", "End Time", "Number2", "Date",
                            "Start Time", "End Time"])]
        n = len(self.instances)
        shown = self.instances if limit is None else self.instances.head(limit)
        for r in shown.itertuples(index=False):
            lines.append("\t".join(str(x) for x in (r.application, r.port, r.number1, r.date1, r.start1, r.end1,
                                                    r.number2, r.date2, r.start2, r.end2)))
        if len(shown) < n:
            lines.append(f"… {count(n - len(shown))} more instances in {full_list}")
        lines.append("")
        lines.append(f"There were {count(n)} instances of overlap in activity between the two numbers.")
        for r in self.per_app.itertuples(index=False):
            lines.append(f"The two suspects were on {r.application} together {count(r.instances)} times. "
                         f"This is {r.fraction:.1%} of the instances.")
        lines.append(f"Total number of sessions were: {count(self.total_sessions)} "
                     f"({self.a}: {count(self.sessions_a)}, "
                     f"{self.b}: {count(self.sessions_b)})")
        lines.append(f"Execution time was: {self.seconds:.3f} seconds")
        if self.edge is not None:
            e = self.edge
            lines.append(
                f"Score {e['score']:.2f} (p = {e['p_value']:.3g}): "
                f"messaging episodes observed {count(e['messaging_obs'])}, "
                f"expected by chance {e['messaging_exp']:,.2f}; "
                f"within {p.tight_window_s}s {count(e['messaging_tight'])}; "
                f"call signatures {count(e['call_obs'])} (expected {e['call_exp']:.3f}); "
                f"co-location {count(e['coloc_obs'])} (expected {e['coloc_exp']:,.2f}); "
                f"scored on the {count(self.common_days)} days both were observed")
        elif self.common_days < MIN_COMMON_DAYS:
            lines.append(f"No score: the two numbers were observed together on {self.common_days} day(s) (their dumps' "
                         f"periods); at least {MIN_COMMON_DAYS} are needed to compare with chance.")
        else:
            lines.append("Score 0: no co-usage episode between the two numbers.")
        lines.append(f"Times are shown in {self.tz}.")
        return "\n".join(lines) + "\n"

    def write(self, folder: str | Path) -> tuple[Path, Path]:
        """Write the full instance list (pair_A_B.csv) and the full report (pair_A_B.txt) to ``folder``.

        Always written, because the screen shows only the first instances: the files are what an
        analyst hands over.
        """
        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        csv, txt = d / f"pair_{self.a}_{self.b}.csv", d / f"pair_{self.a}_{self.b}.txt"
        # The CSV is handed over without the report: its dates and times name their zone in a column.
        write_csv(self.instances.assign(zone=self.tz), csv)
        txt.write_text(self.text(), encoding="utf-8")
        return csv, txt


def pair_report(frame: pd.DataFrame, a: str, b: str, params: LinkParams, tz: str = "Asia/Kolkata",
                all_apps: bool = False, coverage: Coverage | None = None,
                calls: pd.DataFrame | None = None) -> PairReport:
    """Build the report for subscribers ``a`` and ``b`` from canonical sessions.

    With the case's ``coverage`` the score is the one ``link`` gives the pair (pair-local null);
    ``calls`` (their call events) add the cells their CDRs place them at, as ``link`` does.
    """
    t0 = time.perf_counter()
    both = frame[frame["msisdn"].isin([a, b])]
    if all_apps:
        f = both[both["app"].fillna("") != ""].assign(key=service_of(both[both["app"].fillna("") != ""]))
    else:
        f = messaging_sessions(both, params.apps, params.possible_apps)
    if params.since is not None:
        f = f[f["start_utc"] >= params.since]
    if params.until is not None:
        f = f[f["start_utc"] < params.until]
    f = (f.assign(t=epoch_seconds(f["start_utc"]))
         .sort_values(["key", "t", "msisdn"], kind="stable").reset_index(drop=True))
    kcode, _ = pd.factorize(f["key"])
    key, t = kcode.astype(np.int64), f["t"].to_numpy(np.int64)
    sub = (f["msisdn"] == b).to_numpy().astype(np.int64)
    rows = []
    for i, j in window_pairs(key, t, params.window_s):
        keep = sub[i] != sub[j]
        i, j = i[keep], j[keep]
        ia = np.where(sub[i] == 0, i, j)
        ib = np.where(sub[i] == 0, j, i)
        rows.append((ia, ib))
    ia = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
    ib = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.int64)
    sa, sb = f.iloc[ia].reset_index(drop=True), f.iloc[ib].reset_index(drop=True)

    def local(ts: pd.Series) -> pd.Series:
        return ts.dt.tz_convert(tz)

    la, lb = local(sa["start_utc"]), local(sb["start_utc"])
    ea, eb = local(sa["end_utc"].fillna(sa["start_utc"])), local(sb["end_utc"].fillna(sb["start_utc"]))
    inst = pd.DataFrame({
        "application": sa["app"].to_numpy(), "port": ports(sa["dest_port"]).to_numpy(),
        "number1": a, "date1": la.dt.strftime("%d/%m/%Y").to_numpy(), "start1": la.dt.strftime("%H:%M:%S").to_numpy(),
        "end1": ea.dt.strftime("%H:%M:%S").to_numpy(), "number2": b, "date2": lb.dt.strftime("%d/%m/%Y").to_numpy(),
        "start2": lb.dt.strftime("%H:%M:%S").to_numpy(), "end2": eb.dt.strftime("%H:%M:%S").to_numpy(),
        "delta_s": (sb["t"].to_numpy() - sa["t"].to_numpy()), "session_key1": sa["session_key"].to_numpy(),
        "session_key2": sb["session_key"].to_numpy(),
    }, columns=INSTANCE_COLUMNS)
    inst = (inst.iloc[np.lexsort((inst["start2"].to_numpy(), sa["t"].to_numpy()))].reset_index(drop=True)
            if len(inst) else inst)
    per_app = (inst.groupby("application").size().rename("instances").reset_index() if len(inst)
               else pd.DataFrame(columns=["application", "instances"]))
    per_app["fraction"] = per_app["instances"] / max(len(inst), 1)
    per_app = per_app.sort_values(["instances", "application"], ascending=[False, True]).reset_index(drop=True)
    res = link(both, params, coverage=coverage, calls=calls) if both["msisdn"].nunique() == 2 else None
    edge = res.edges.iloc[0] if res is not None and len(res.edges) else None
    common = int(res.coverage.common_days([a], [b])[0]) if res is not None and res.coverage is not None else 0
    n_a, n_b = int((both["msisdn"] == a).sum()), int((both["msisdn"] == b).sum())
    return PairReport(a=a, b=b, instances=inst, per_app=per_app, total_sessions=n_a + n_b, sessions_a=n_a,
                      sessions_b=n_b, seconds=time.perf_counter() - t0, edge=edge, params=params, tz=tz,
                      common_days=common)
