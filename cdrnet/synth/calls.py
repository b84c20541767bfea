"""Simulate the call records of a simulated case: voice/SMS CDRs and tower dumps of the same people.

Planted pairs (the truth) also call and text each other sometimes, and a share of
them never do (they only chat on encrypted apps: what cdrnet exists to find);
everyone calls and texts numbers outside the case; a call between two
subscribers of the case is in both their CDRs (the callee's switch a second or
two late). Cells keep the positions the IPDR exports give them, and the Airtel
and BSNL layouts write them. Tower dumps list every call handled by a few busy
cells on one day.

Everything is drawn from random streams of its own (``[seed, 61…]``), so the
IPDR dumps of a seed are the same bytes with call records on or off.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cdrnet.synth.call_writers import write_calls
from cdrnet.synth.writers import cell_positions

if TYPE_CHECKING:  # simulate.py imports this module
    from cdrnet.synth.scenario import Scenario
    from cdrnet.synth.simulate import Population

#: Parties of a meeting arrive within this many seconds of its start (and call from there).
MEETING_ARRIVAL_S = 300
#: The CDR layout of each IPDR operator layout (the paper's layout has no operator: BSNL or DoT).
CDR_LAYOUT = {"jio": "jio_cdr", "airtel": "airtel_cdr", "airtel_excel": "airtel_cdr", "vi": "vi_cdr"}


def month_first_files(summary: dict) -> set[str]:
    """The files of a simulated case written month-first (Excel re-saved IPDRs, CDRs and tower
    dumps), as paths relative to the case folder: the ground truth a test or benchmark needs to
    load the dumps whose dates read both ways with the right ``--date-order``."""
    out = {f for d in summary.get("dumps", []) if d.get("layout") == "airtel_excel" for f in d["files"]}
    return out | set(summary.get("call_records", {}).get("month_first", []))


def files_by_date_order(summary: dict, case: Path) -> dict[str, list[str]]:
    """Every file of a simulated case under the ``--date-order`` it was written in ("dmy"/"mdy"):
    a short dump's dates read both ways, and one order forced on the whole folder would misread
    the dumps written in the other (exactly what an analyst must not do either)."""
    mdy = month_first_files(summary)
    every = [*summary.get("files", []), *summary.get("call_records", {}).get("cdr_files", []),
             *summary.get("call_records", {}).get("tower_dumps", [])]
    out: dict[str, list[str]] = {"dmy": [], "mdy": []}
    for f in dict.fromkeys(every):
        out["mdy" if f in mdy else "dmy"].append(str(case / f))
    return out


def _callers(sc: Scenario, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The planted pairs that also call or text each other (the others never do)."""
    calls = rng.random(len(truth)) < sc.cdr_pair_share
    return truth[calls].reset_index(drop=True)


def _outside_numbers(n: int, rng: np.random.Generator, taken: set[str]) -> np.ndarray:
    out: list[str] = []
    while len(out) < n:
        m = "917" + "".join(map(str, rng.integers(0, 10, 9)))
        if m not in taken:
            taken.add(m)
            out.append(m)
    return np.array(out, dtype=object)


def call_events(sc: Scenario, pop: Population, truth: pd.DataFrame,
                meetings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every call and SMS of the case, one row per call (caller's view): caller/callee indexes
    (-1: outside the case, with its number), type, start (naive local), duration; ``cell`` where
    the call is made from a meeting's cell (else the subscriber's home or work cell)."""
    rng = np.random.default_rng([sc.seed, 61])
    n = len(pop.msisdn)
    index = pd.Series(np.arange(n), index=pop.msisdn)
    pairs = _callers(sc, truth, rng)
    a, b = index[pairs["a"]].to_numpy(), index[pairs["b"]].to_numpy()
    outside = _outside_numbers(sc.cdr_outside_numbers, rng, set(pop.msisdn))
    days = sc.days
    rows = []
    for day in range(days):  # one vectorised draw per day
        k = rng.poisson(sc.cdr_pair_rate, len(a))
        pa, pb = np.repeat(a, k), np.repeat(b, k)
        flip = rng.random(len(pa)) < 0.5
        caller, callee = np.where(flip, pb, pa), np.where(flip, pa, pb)
        ko = rng.poisson(sc.cdr_outside_rate * np.asarray(pop.activity), n)
        who = np.repeat(np.arange(n), ko)
        other = rng.integers(0, len(outside), len(who))
        out_ = rng.random(len(who)) < 0.5
        rows.append(pd.DataFrame({
            "caller": np.concatenate([caller, np.where(out_, who, -1)]),
            "callee": np.concatenate([callee, np.where(out_, -1, who)]),
            "outside": np.concatenate([np.full(len(caller), ""), outside[other]]),
            "day": day,
        }))
    f = pd.concat(rows, ignore_index=True)
    m = len(f)
    sms = rng.random(m) < sc.cdr_sms_share
    t = rng.integers(7 * 3600, 24 * 3600, m) + np.where(rng.random(m) < 0.1, -7 * 3600, 0)
    f["type"] = np.where(sms, "sms", "voice")
    f["start"] = (pd.Timestamp(sc.start_date) + pd.to_timedelta(f["day"], unit="D")
                  + pd.to_timedelta(t, unit="s"))
    f["duration"] = np.where(sms, 0, np.clip(rng.lognormal(np.log(90), 0.9, m), 3, 3600).astype(np.int64))
    f["jitter"] = rng.integers(0, 3, m)  # the callee's switch records the call a little later
    f["at_work"] = rng.random(m) < 0.4
    f["cell"] = None
    # Drawn after everything above, so the other calls of a seed stay what they were.
    extra = _meeting_calls(sc, meetings, outside, rng)
    if len(extra):
        f = pd.concat([f, extra], ignore_index=True).astype(
            {"caller": np.int64, "callee": np.int64, "duration": np.int64, "jitter": np.int64, "at_work": bool})
    return f.drop(columns="day").sort_values("start", kind="stable").reset_index(drop=True)


def _meeting_calls(sc: Scenario, meetings: pd.DataFrame | None, outside: np.ndarray,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Calls and SMS made at meetings: each party, with probability ``cdr_meeting_share``, calls or
    texts someone outside the case from the meeting's cell as it arrives (within the meeting's first
    ``MEETING_ARRIVAL_S`` seconds: "I'm here", "I'll be late")."""
    cols = ["caller", "callee", "outside", "day", "type", "start", "duration", "jitter", "at_work", "cell"]
    if meetings is None or meetings.empty or sc.cdr_meeting_share <= 0:
        return pd.DataFrame(columns=cols)
    m = meetings[(meetings["day"] >= 0) & (meetings["day"] < sc.days)]
    who = np.concatenate([m["a"].to_numpy(), m["b"].to_numpy()])
    t = np.concatenate([m["t"].to_numpy(), m["t"].to_numpy()]) + rng.uniform(0, MEETING_ARRIVAL_S, len(who))
    day = np.concatenate([m["day"].to_numpy(), m["day"].to_numpy()])
    cell = np.concatenate([m["cell"].to_numpy(), m["cell"].to_numpy()])
    keep = (rng.random(len(who)) < sc.cdr_meeting_share) & (t < 86400)
    who, t, day, cell = who[keep], t[keep], day[keep], cell[keep]
    k = len(who)
    sms = rng.random(k) < sc.cdr_sms_share
    out_ = rng.random(k) < 0.5
    return pd.DataFrame({
        "caller": np.where(out_, who, -1), "callee": np.where(out_, -1, who),
        "outside": outside[rng.integers(0, len(outside), k)], "day": day,
        "type": np.where(sms, "sms", "voice"),
        "start": pd.Timestamp(sc.start_date) + pd.to_timedelta(day, unit="D") + pd.to_timedelta(np.floor(t), unit="s"),
        "duration": np.where(sms, 0, np.clip(rng.lognormal(np.log(90), 0.9, k), 3, 3600).astype(np.int64)),
        "jitter": np.zeros(k, dtype=np.int64), "at_work": np.zeros(k, dtype=bool), "cell": cell}, columns=cols)


def _views(f: pd.DataFrame, pop: Population) -> pd.DataFrame:
    """Each call from each case party's side: who (index), msisdn, b_party, direction, start, cell."""
    msisdn = np.asarray(pop.msisdn, dtype=object)

    def number(i: np.ndarray) -> np.ndarray:
        return np.where(i >= 0, msisdn[np.maximum(i, 0)], f["outside"].to_numpy())

    caller_no, callee_no = number(f["caller"].to_numpy()), number(f["callee"].to_numpy())
    sides = []
    for side, who, other, shift in (("out", f["caller"], callee_no, 0), ("in", f["callee"], caller_no, 1)):
        keep = (who >= 0).to_numpy()
        w = who.to_numpy()[keep]
        at_work = f["at_work"].to_numpy()[keep]
        cell = np.where(at_work, np.asarray(pop.work_cell)[w], np.asarray(pop.home_cell)[w])
        met = f["cell"].to_numpy()[keep]
        cell = np.where(pd.notna(met), met, cell)
        start = f["start"][keep] + pd.to_timedelta(f["jitter"][keep] * shift, unit="s")
        sides.append(pd.DataFrame({"who": w, "msisdn": msisdn[w], "b_party": other[keep], "direction": side,
                                   "type": f["type"][keep].to_numpy(), "start": start.to_numpy(),
                                   "duration": f["duration"][keep].to_numpy(), "cell": cell,
                                   "imei": np.asarray(pop.imei)[w, 0], "imsi": np.asarray(pop.imsi)[w, 0]}))
    v = pd.concat(sides, ignore_index=True).sort_values(["who", "start"], kind="stable").reset_index(drop=True)
    lat, lon = cell_positions(v["cell"])
    return v.assign(last_cell=v["cell"], lat=lat, lon=lon)


def write_call_records(sc: Scenario, pop: Population, truth: pd.DataFrame, plan_layouts: dict[int, str],
                       folder: Path, meetings: pd.DataFrame | None = None) -> dict:
    """Write one CDR per subscriber and ``tower_dumps`` tower dumps into ``folder``; a summary for scenario.json.

    Also writes ``contacts_truth.csv`` beside the folder: the planted pairs that call or
    text, with how many calls and SMS they exchanged.
    """
    f = call_events(sc, pop, truth, meetings)
    views = _views(f, pop)
    files, month_first = [], []
    for who, part in views.groupby("who", sort=True):
        ipdr_layout = plan_layouts.get(int(who), "paper")
        layout = CDR_LAYOUT.get(ipdr_layout, "bsnl_cdr" if int(who) % 2 else "dot_cdr")
        number = str(pop.msisdn[int(who)])
        excel = ipdr_layout == "airtel_excel"  # the analyst re-saved this subscriber's Airtel exports
        path = write_calls(part, layout, folder / f"cdr_{layout}_{number}.csv", excel=excel)
        files.append(f"{folder.name}/{path.name}")
        if excel:
            month_first.append(files[-1])
    towers, empty = [], []
    rng = np.random.default_rng([sc.seed, 62])
    day = views["start"].dt.floor("D")
    busy = views.groupby([views["cell"], day]).size().sort_values(ascending=False, kind="stable")
    busy = busy[~busy.index.get_level_values(0).duplicated()]  # the busiest day of each cell: distinct places
    chosen = [(cell, d, False) for (cell, d), _ in busy.head(sc.tower_dumps).items()]
    first_day = day.min()
    first = views[(day == first_day) & ~views["cell"].isin([c for c, _, _ in chosen])]
    for cell in first["cell"].value_counts().index[: sc.tower_excel]:
        chosen.append((cell, first_day, True))  # a short dump whose dates all read both ways
    for cell, d, excel in chosen:
        rows = views[(views["cell"] == cell) & (day == d)]
        strangers = rows.sample(frac=0.3, random_state=int(rng.integers(0, 2**31)))  # people passing by
        strangers = strangers.assign(msisdn=_outside_numbers(len(strangers), rng, set(pop.msisdn)))
        dump = pd.concat([rows, strangers], ignore_index=True)
        name = f"tower_{cell}_{d:%Y%m%d}.csv"
        write_calls(dump, "airtel_cdr", folder / name, tower_cell=str(cell),
                    period=(d, d + pd.Timedelta(seconds=86399)), excel=excel)
        towers.append(f"{folder.name}/{name}")
        if excel:
            month_first.append(towers[-1])
    used = set(views["cell"].astype(str)) | set(views["last_cell"].astype(str))
    mcc_mnc_lac = str(views["cell"].iloc[0]).rsplit("-", 1)[0]
    free = (f"{mcc_mnc_lac}-{ci}" for ci in range(90000, 90000 + len(used) + sc.tower_empty + 1))
    for cell in [c for c in free if c not in used][: sc.tower_empty]:  # cells nobody used that day
        name = f"tower_{cell}_{first_day:%Y%m%d}.csv"
        write_calls(views.iloc[:0], "airtel_cdr", folder / name, tower_cell=cell,
                    period=(first_day, first_day + pd.Timedelta(seconds=86399)))
        towers.append(f"{folder.name}/{name}")
        empty.append(towers[-1])
    case = f[(f["caller"] >= 0) & (f["callee"] >= 0)]
    msisdn = np.asarray(pop.msisdn, dtype=object)
    lo = np.minimum(msisdn[case["caller"]], msisdn[case["callee"]])
    hi = np.maximum(msisdn[case["caller"]], msisdn[case["callee"]])
    contacts = (pd.DataFrame({"a": lo, "b": hi, "calls": (case["type"] == "voice").to_numpy().astype(int),
                              "sms": (case["type"] == "sms").to_numpy().astype(int)})
                .groupby(["a", "b"], as_index=False).sum())
    contacts.to_csv(folder.parent / "contacts_truth.csv", index=False)
    return {"cdr_files": files, "tower_dumps": towers, "month_first": month_first, "empty_tower_dumps": empty,
            "calls": int((f["type"] == "voice").sum()),
            "sms": int((f["type"] == "sms").sum()), "meeting_calls": int(f["cell"].notna().sum()),
            "planted_pairs_calling": int(len(contacts)),
            "planted_pairs_never_calling": int(len(truth) - len(contacts))}
