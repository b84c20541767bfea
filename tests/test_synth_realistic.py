"""The simulator writes real-case shapes: own periods per dump, mixed layouts, Airtel records, Excel re-saves."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdrnet.analysis.metrics import all_pairs, evaluate, observed_together, rank_all_pairs
from cdrnet.synth.scenario import build_scenario
from cdrnet.synth.simulate import simulate
from cdrnet.synth.writers import AIRTEL_HEADER, header, partial_records, render
from tests.conftest import make_sessions, run_cli

# The synthetic samples beside the repository (../shared, as CI has it).
SAMPLE_EXCEL = Path(__file__).resolve().parent / "samples" / "ipdr_airtel_excel.csv"
# Small but with every shape: other-year dumps, second dumps, a short Vi dump, Excel re-saves, Jio parts.
SMALL = {"subscribers": 16, "days": 9, "other_period_share": 0.2, "second_dump_share": 0.3, "short_dumps": 1,
         "excel_share": 0.5, "jio_part_days": 4, "full_period_share": 0.3}


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("realistic")
    summary = simulate(build_scenario("realistic", seed=5, **SMALL), out)
    return out, summary


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def table(path: Path, layout: str) -> pd.DataFrame:
    """The data rows of one written dump, read with the layout's known header position."""
    lines = path.read_text(encoding="utf-8").split("\n")
    first = header(layout)[0]
    start = next(i for i, line in enumerate(lines) if line.startswith(first + ","))
    rows = [line for line in lines[start:] if line and not line.startswith((" ", "Note", "Generated"))]
    return pd.read_csv(io.StringIO("\n".join(rows)), dtype=str, keep_default_na=False)


STARTS = {"paper": (None, "%d/%m/%Y %H:%M:%S"), "jio": ("TIME1 (dd/MM/yyyy HH:mm:ss)", "%d/%m/%Y %H:%M:%S"),
          "airtel": ("Session_Start_Time", "%d-%b-%Y %H:%M:%S"),
          "airtel_excel": ("Session_Start_Time", "%m/%d/%Y %H:%M"),
          "vi": ("Session Start date & time", "%d/%m/%Y %H:%M:%S")}


def starts(frame: pd.DataFrame, layout: str) -> pd.Series:
    col, fmt = STARTS[layout]
    text = frame["START_DATE"] + " " + frame["START_TIME"] if col is None else frame[col]
    return pd.to_datetime(text, format=fmt)


def test_same_seed_same_bytes_mixed(tmp_path):
    sc = build_scenario("realistic", seed=3, **{**SMALL, "subscribers": 10, "days": 4})
    simulate(sc, tmp_path / "a")
    simulate(sc, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    simulate(build_scenario("realistic", seed=4, **{**SMALL, "subscribers": 10, "days": 4}), tmp_path / "c")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_scenario_json_lists_dumps_with_periods(case):
    out, summary = case
    saved = json.loads((out / "scenario.json").read_text())
    dumps = saved["dumps"]
    assert saved["scenario"]["mixed"] is True and len(dumps) == len(summary["dumps"])
    listed = [f for d in dumps for f in d["files"]]
    assert sorted(listed) == saved["files"] and len(set(listed)) == len(listed)
    assert {d["kind"] for d in dumps} >= {"main", "second", "other", "short"}
    for d in dumps:
        lo, hi = pd.Timestamp(d["period_start"]), pd.Timestamp(d["period_end"])
        assert lo < hi and all((out / f).exists() for f in d["files"])
    short = [d for d in dumps if d["kind"] == "short"]
    assert all(pd.Timedelta(hours=1) <= pd.Timestamp(d["period_end"]) - pd.Timestamp(d["period_start"])
               <= pd.Timedelta(hours=4) and d["layout"] == "vi" for d in short)
    # Some subscribers have two dumps for different periods; periods of one subscriber never overlap.
    per = pd.DataFrame(dumps).assign(s=lambda f: pd.to_datetime(f["period_start"]),
                                     e=lambda f: pd.to_datetime(f["period_end"]))
    per = per.sort_values(["msisdn", "s"])
    assert per["msisdn"].duplicated().any()
    same = per["msisdn"].eq(per["msisdn"].shift())
    assert (per["s"][same] > per["e"].shift()[same]).all()
    assert sum(d["sessions"] for d in dumps) == saved["sessions"]


def test_mixed_layouts_and_jio_parts(case):
    out, summary = case
    layouts = {d["layout"] for d in summary["dumps"]}
    assert {"jio", "airtel", "airtel_excel", "vi"} <= layouts and len(layouts) >= 4
    assert any(len(d["files"]) > 1 for d in summary["dumps"] if d["layout"] == "jio")
    assert all(len(d["files"]) == 1 for d in summary["dumps"] if d["layout"] != "jio")


def test_rows_lie_within_each_dumps_stated_period(case):
    out, summary = case
    for d in summary["dumps"]:
        lo, hi = pd.Timestamp(d["period_start"]), pd.Timestamp(d["period_end"])
        text = (out / d["files"][0]).read_text(encoding="utf-8")
        if d["layout"] == "airtel":
            assert f"CDR OF MSISDN : {d['msisdn'][2:]} from {lo:%d-%b-%Y %H:%M:%S} to {hi:%d-%b-%Y %H:%M:%S}\n" in text
        if d["layout"] == "airtel_excel":
            assert (f"IPDR OF Mobile No : {d['msisdn'][2:]} from {lo:%d-%b-%Y %H:%M:%S} "
                    f"to {hi:%d-%b-%Y %H:%M:%S},") in text
        if d["layout"] == "vi":
            assert (f"From Date:- {lo:%Y-%m-%d}\nFrom Time:- {lo:%H:%M:%S}\nTill Date:- {hi:%Y-%m-%d}\n"
                    f"Till Time:- {hi:%H:%M:%S}\n") in text
        for f in d["files"]:
            rows = table(out / f, d["layout"])
            t = starts(rows, d["layout"])
            floor = lo.floor("min") if d["layout"] == "airtel_excel" else lo
            assert ((t >= floor) & (t <= hi)).all(), f
            if d["layout"] == "airtel":
                close = pd.to_datetime(rows["Session_End_Time"], format="%d-%b-%Y %H:%M:%S")
                assert (close <= hi).all() and (close >= t).all()


def test_planted_pairs_mostly_overlap_but_not_all(tmp_path):
    summary = simulate(build_scenario("realistic", seed=7, subscribers=60, days=8), tmp_path)
    assert summary["true_pairs_common_days_2plus"] >= 0.6 * summary["true_pairs"]
    assert summary["true_pairs_common_days_2plus"] < summary["true_pairs"]


def test_airtel_volumes_are_record_totals(case):
    out, summary = case
    d = next(d for d in summary["dumps"] if d["layout"] == "airtel" and d["sessions"] > 300)
    rows = table(out / d["files"][0], "airtel")
    vol = rows["Uplink_Vol"].astype(np.int64) + rows["Downlink_Vol"].astype(np.int64)
    per_record = rows.assign(v=vol).groupby("Charging_ID")
    assert (per_record["v"].nunique() == 1).all()  # the record's totals, repeated
    assert (per_record["Session_End_Time"].nunique() == 1).all()  # one close per record
    assert vol.sum() / per_record["v"].first().sum() >= 3
    start = pd.to_datetime(rows["Session_Start_Time"], format="%d-%b-%Y %H:%M:%S")
    assert (start.dt.second != 0).mean() > 0.9  # per flow, to the second
    close = pd.to_datetime(rows["Session_End_Time"], format="%d-%b-%Y %H:%M:%S")
    span = (close.groupby(rows["Charging_ID"]).max() - start.groupby(rows["Charging_ID"]).min()).dt.total_seconds()
    assert (span >= 0).all() and (span <= 3600).all()


def test_partial_records_close_15_to_60_minutes_after_opening():
    t = pd.Series(pd.Timestamp("2023-07-14") + pd.to_timedelta(np.arange(0, 86400, 7), unit="s"))
    close, number = partial_records(np.zeros(len(t), dtype=int), t, np.random.default_rng(1))
    assert (close >= t).all() and (close.dt.date == t.dt.date).all()
    lengths = close.groupby(number).first().diff().dropna().dt.total_seconds()
    assert lengths.between(15 * 60, 60 * 60).all()


def test_excel_variant_exact_shape(case):
    out, summary = case
    d = next(d for d in summary["dumps"] if d["layout"] == "airtel_excel" and d["sessions"])
    lines = (out / d["files"][0]).read_text(encoding="utf-8").split("\n")
    cols = lines[6].split(",")
    assert cols == AIRTEL_HEADER[:-1] + ["  CGI Latitude", " CGI Longitude", " CGI"]
    assert all(line.count(",") == len(cols) - 1 for line in lines[:6])
    assert lines[0] == "BHARTI AIRTEL LTD" + "," * 27 and lines[1] == "," * 27 and lines[2].startswith("Pan India,")
    assert re.fullmatch(r"IPDR OF Mobile No : \d{10} from \d\d-\w{3}-\d{4} 00:00:00 "
                        r"to \d\d-\w{3}-\d{4} 23:59:59,{27}", lines[4])
    sample = SAMPLE_EXCEL.read_text().split("\n")  # the real shape, line for line
    assert lines[6] == sample[6] and [x.count(",") for x in lines[:6]] == [x.count(",") for x in sample[:6]]
    rows = table(out / d["files"][0], "airtel_excel")
    assert (rows["IMEI"].str.fullmatch(r"\d\.\d{1,5}E\+\d\d").all()
            and rows["IMSI"].str.fullmatch(r"\d(\.\d{1,5})?E\+14").all())
    for col in ("Session_Start_Time", "Session_End_Time"):
        assert rows[col].str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d").all()
    assert (rows[" CGI"].str.fullmatch(r"404-70-166-\d+").all()
            and rows["  CGI Latitude"].str.fullmatch(r"2\d\.\d{3}").all())


def test_excel_month_first_with_days_above_12_and_all_ambiguous(tmp_path):
    # A 17-day July period has days above 12 (decidable from the data) ...
    simulate(build_scenario("realistic", subscribers=4, days=17, start_date="2023-07-01", mixed=False,
                            layout="airtel_excel"), tmp_path / "late")
    # ... a dump inside the first 12 days of a month is ambiguous: only the preamble decides.
    simulate(build_scenario("realistic", subscribers=4, days=10, start_date="2023-07-01", mixed=False,
                            layout="airtel_excel"), tmp_path / "early")
    for name, above in (("late", True), ("early", False)):
        for f in sorted((tmp_path / name / "dumps").glob("*.csv")):
            rows = table(f, "airtel_excel")
            month, day = rows["Session_Start_Time"].str[:2].astype(int), rows["Session_Start_Time"].str[3:5].astype(int)
            assert (month == 7).all()
            assert (day > 12).any() == above


def test_realistic_flat_has_the_same_people_and_events(tmp_path):
    kw = {"subscribers": 10, "days": 4, "seed": 9}
    mixed = simulate(build_scenario("realistic", **kw), tmp_path / "m")
    flat = simulate(build_scenario("realistic_flat", **kw), tmp_path / "f")
    assert (tmp_path / "m" / "truth.csv").read_bytes() == (tmp_path / "f" / "truth.csv").read_bytes()
    assert {d["msisdn"] for d in flat["dumps"]} == {d["msisdn"] for d in mixed["dumps"]}
    assert {d["layout"] for d in flat["dumps"]} == {"paper"} and len(flat["dumps"]) == 10
    assert len({(d["period_start"], d["period_end"]) for d in flat["dumps"]}) == 1
    assert flat["scenario"]["mixed"] is False
    same = build_scenario("realistic", mixed=False, **kw)
    assert {**same.to_dict(), "name": "x"} == {**build_scenario("realistic_flat", **kw).to_dict(), "name": "x"}


def test_render_states_whole_days_by_default():
    text = render(make_sessions(5, start="2023-07-14 09:00:00"), "vi")
    assert "From Date:- 2023-07-14\nFrom Time:- 00:00:00\n" in text and "Till Time:- 23:59:59\n" in text


def test_rank_only_eligible_pairs():
    subs = ["1", "2", "3", "4"]
    truth = pd.DataFrame({"a": ["1", "3"], "b": ["2", "4"]})
    edges = pd.DataFrame({"a": ["1", "1"], "b": ["2", "3"], "score": [5.0, 9.0]})
    a, b = all_pairs(subs)
    common = np.where((a == "3") & (b == "4"), 0, 5)  # 3 and 4 were never recorded together
    scores, labels = rank_all_pairs(edges, subs, truth, eligible=common >= 2)
    assert len(scores) == 5 and labels.sum() == 1
    assert evaluate(scores, labels)["ap"] == pytest.approx(0.5)
    kept = observed_together(subs, truth, common)
    assert kept == {"pairs_all": 6, "pairs_kept": 5, "true_all": 2, "true_kept": 1, "min_common_days": 2}


def test_evaluate_cli_ranks_only_pairs_observed_together(capsys, tmp_path):
    case = tmp_path / "case"
    code, out, err = run_cli(capsys, "simulate", str(case), "--scenario", "realistic", "--subscribers", "14",
                             "--days", "6",
                             "--set", "excel_share=0", "--set", "other_period_share=0.3", "--set", "short_dumps=0")
    assert code == 0, err
    assert "each with its own requested period" in out
    ws = str(tmp_path / "ws")
    # No Excel re-saves here: every dump is day-first (a dump within the 1st-12th states no period).
    assert run_cli(capsys, "-w", ws, "ingest", "--date-order", "dmy", str(case / "dumps"))[0] == 0
    assert run_cli(capsys, "-w", ws, "link")[0] == 0
    code, out, err = run_cli(capsys, "-w", ws, "evaluate", "--truth", str(case / "truth.csv"),
                             str(tmp_path / "ws" / "edges.csv"), "--out", str(tmp_path / "m.csv"))
    assert code == 0, err
    m = re.search(r"ranking only the (\d+) of (\d+) pairs observed together for at least 2 day", out)
    assert m and int(m[1]) < int(m[2]) == 14 * 13 // 2
    metrics = pd.read_csv(tmp_path / "m.csv")
    assert (metrics["min_common_days"] == 2).all() and (metrics["pairs"] == int(m[1])).all()
