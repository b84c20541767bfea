"""Requested period per dump, date order decided per dump, time/volume scope per layout.

Generated data only: every number and address below is made up.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cdrnet.errors import DateOrderError, LayoutFileError
from cdrnet.loader import textblocks
from cdrnet.loader.dateorder import decide, formats_for_order
from cdrnet.loader.layouts import builtin_layouts, load_layout_file
from cdrnet.loader.period import stated_period, to_utc
from cdrnet.loader.quality import DumpReport
from cdrnet.synth.writers import AIRTEL_HEADER, PAPER_HEADER, render
from tests.conftest import ingest, make_sessions, run_cli

IST = "Asia/Kolkata"


# ---------------------------------------------------------------- period from the preamble

@pytest.mark.parametrize("lines,start,end", [
    (["BHARTI AIRTEL LTD", "", "Pan India", "",
      "CDR OF MSISDN : 7873019433 from 02-Mar-2026 00:00:00 to 03-Mar-2026 23:59:59", ""],
     "2026-03-01T18:30:00+00:00", "2026-03-03T18:29:59+00:00"),
    # Excel re-saved: comma padding, dates without times (the end is the end of that day).
    (["BHARTI AIRTEL LTD,,,,", ",,,,", "IPDR OF Mobile No : 7873019433 from 01-Jul-2023 to 17-Jul-2023,,,,"],
     "2023-06-30T18:30:00+00:00", "2023-07-17T18:29:59+00:00"),
    (["VIL Call Data Records", "", "MSISDN:- 7873019433", "Report Type:- ", "From Date:- 2026-03-02",
      "From Time:- 00:00:00", "Till Date:- 2026-03-03", "Till Time:- 23:59:59", "AuditId:- 1"],
     "2026-03-01T18:30:00+00:00", "2026-03-03T18:29:59+00:00"),
    (["VIL Call Data Records", "MSISDN:- 917873019433", "From Date:- 2024-03-04", "To Date:- 2024-03-05"],
     "2024-03-03T18:30:00+00:00", "2024-03-05T18:29:59+00:00"),
    (["BHARTI AIRTEL LIMITED",
      "Call Details of Mobile No '9426434778' from '14-03-2026 00:00:00' to '15-03-2026 23:59:59'"],
     "2026-03-13T18:30:00+00:00", "2026-03-15T18:29:59+00:00"),
    (["Ticket Number :,LEA-1", "Input Value (MSISDN/B PARTY/IMEI/IMSI/CELL ID) :,9008700825",
      "Date Range :,02/03/2026 - 31/03/2026"],
     "2026-03-01T18:30:00+00:00", "2026-03-31T18:29:59+00:00"),
])
def test_period_from_each_preamble_form(lines, start, end):
    p = stated_period(lines)
    assert p is not None
    readings = set(p.readings().values())
    assert len(readings) == 1
    lo, hi = readings.pop()
    assert to_utc(lo, IST).isoformat() == start
    assert to_utc(hi, IST).isoformat() == end


def test_numeric_period_reads_both_ways():
    p = stated_period(["Call Details of Mobile No '1' from '02-03-2026 00:00:00' to '03-03-2026 23:59:59'"])
    assert p is not None and len(set(p.readings().values())) == 2


def test_no_preamble_states_no_period():
    assert stated_period([]) is None
    assert stated_period(["BHARTI AIRTEL LTD", "Pan India"]) is None


def airtel_file(tmp_path, rows: list[tuple[str, str]], preamble: str, name: str = "a.csv", excel: bool = False):
    """An Airtel IPDR with the given (start, end) texts and preamble line."""
    header = AIRTEL_HEADER + (["CGI Latitude", "CGI Longitude", "CGI"] if excel else [])
    pad = "," * (len(header) - 1) if excel else ""
    lines = [f"BHARTI AIRTEL LTD{pad}", pad, f"Pan India{pad}", pad, f"{preamble}{pad}", pad, ",".join(header)]
    for k, (start, end) in enumerate(rows):
        row = {c: "" for c in header}
        row.update({"MSISDN": "7873019433", "Session_Start_Time": start, "Session_End_Time": end,
                    "Destination_IP": "157.240.1.52", "Destination_Port": "443", "Charging_ID": str(900 + k),
                    "Source_Port": str(40000 + k), "Uplink_Vol": "100", "Downlink_Vol": "200"})
        lines.append(",".join(row[c] for c in header))
    lines += [pad, f"This is System generated report and does not require signature{pad}"]
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_period_stated_in_preamble_reaches_the_report(ws, tmp_path):
    p = airtel_file(tmp_path, [("02-Mar-2026 00:05:32", "02-Mar-2026 00:30:00"),
                               ("03-Mar-2026 10:00:00", "03-Mar-2026 10:30:00")],
                    "CDR OF MSISDN : 7873019433 from 02-Mar-2026 00:00:00 to 03-Mar-2026 23:59:59")
    rep = ingest(ws, p).loaded[0]
    assert (rep.period_start_utc, rep.period_end_utc, rep.period_source) == (
        "2026-03-01T18:30:00+00:00", "2026-03-03T18:29:59+00:00", "preamble")
    assert rep.rows_outside_period == 0
    assert rep.date_order == "" and rep.date_order_source == ""  # text months: nothing to decide
    assert (rep.end_scope, rep.volume_scope) == ("record", "record")
    text = "\n".join(rep.summary_lines())
    assert "period 2026-03-02 00:00 .. 2026-03-03 23:59:59 Asia/Kolkata (stated in preamble)" in text
    # Reports are stored and read back with the new fields.
    assert ws.reports()[0].period_source == "preamble"


def test_rows_outside_the_stated_period_are_counted_and_kept(ws, tmp_path):
    p = airtel_file(tmp_path, [("02-Mar-2026 10:00:00", "02-Mar-2026 10:30:00"),
                               ("05-Mar-2026 10:00:00", "05-Mar-2026 10:30:00"),
                               ("01-Mar-2026 23:59:59", "02-Mar-2026 00:10:00")],
                    "CDR OF MSISDN : 7873019433 from 02-Mar-2026 00:00:00 to 03-Mar-2026 23:59:59")
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 3 and rep.rows_outside_period == 2
    assert any("2 loaded row(s) start outside the stated period" in line for line in rep.summary_lines())


def test_period_falls_back_to_the_rows_span(ws, tmp_path):
    s = make_sessions(10)
    p = tmp_path / "paper.csv"
    p.write_text(render(s, "paper"))
    rep = ingest(ws, p).loaded[0]
    assert rep.period_source == "rows"
    assert (rep.period_start_utc, rep.period_end_utc) == (rep.start_min, rep.start_max)
    assert rep.rows_outside_period == 0
    assert "(span of the rows: no period stated)" in "\n".join(rep.summary_lines())


def test_empty_export_keeps_its_stated_period(ws, tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("BHARTI AIRTEL LTD\n\nPan India\n\nCDR OF MSISDN : 7873019433 from 01-Apr-2023 to 30-Apr-2023\n\n"
                 "No Records Found\n")
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 0 and rep.period_source == "preamble"
    assert (rep.period_start_utc, rep.period_end_utc) == ("2023-03-31T18:30:00+00:00", "2023-04-30T18:29:59+00:00")


def test_old_reports_without_the_new_fields_still_load():
    rep = DumpReport.from_dict({"name": "x.csv", "sha256": "ab", "size": 1, "loaded": 3, "future_field": 1})
    assert rep.period_source == "" and rep.end_scope == "flow" and rep.volume_scope == "flow"
    assert rep.period_text() == "unknown"


# ---------------------------------------------------------------- date order

def paper_file(tmp_path, starts: list[str], name: str = "p.csv"):
    """Paper-layout rows with the given 'date time' starts (end 5 minutes later, same text date)."""
    lines = [",".join(PAPER_HEADER)]
    for k, text in enumerate(starts):
        date, time = text.split(" ")
        lines.append(",".join(["10.0.0.1", str(40000 + k), "100.64.0.1", "50000", "157.240.1.52", "443",
                               "919876543210", "404701234567890", date, time, date,
                               (pd.Timestamp("2000-01-01 " + time) + pd.Timedelta(minutes=5)).strftime("%H:%M:%S"),
                               "353456012345670", "404-70-1-1", "100", "200", "300", "4G"]))
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def local_starts(ws) -> list[str]:
    got = ws.sessions().sort_values("source_line")
    return got["start_utc"].dt.tz_convert(IST).dt.strftime("%Y-%m-%d %H:%M").tolist()


def test_day_first_decided_from_the_data(ws, tmp_path):
    rep = ingest(ws, paper_file(tmp_path, ["03/04/2023 10:00:00", "14/04/2023 11:00:00"])).loaded[0]
    assert (rep.date_order, rep.date_order_source) == ("dmy", "data")
    assert local_starts(ws) == ["2023-04-03 10:00", "2023-04-14 11:00"]


def test_month_first_decided_from_the_data(ws, tmp_path):
    rep = ingest(ws, paper_file(tmp_path, ["04/03/2023 10:00:00", "04/14/2023 11:00:00"])).loaded[0]
    assert (rep.date_order, rep.date_order_source) == ("mdy", "data")
    assert local_starts(ws) == ["2023-04-03 10:00", "2023-04-14 11:00"]


def test_excel_resaved_airtel_reads_month_first_by_its_stated_period(ws, tmp_path):
    # Every date is ambiguous (07/03 and 07/05); only month-first lands inside 1-17 July.
    p = airtel_file(tmp_path, [("07/03/2023 11:34", "07/03/2023 12:00"), ("07/05/2023 09:10", "07/05/2023 09:40")],
                    "IPDR OF Mobile No : 7873019433 from 01-Jul-2023 to 17-Jul-2023", excel=True)
    rep = ingest(ws, p).loaded[0]
    assert (rep.date_order, rep.date_order_source) == ("mdy", "preamble")
    assert rep.rejected == {} and rep.rows_outside_period == 0
    assert local_starts(ws) == ["2023-07-03 11:34", "2023-07-05 09:10"]
    assert rep.resolution_s >= 60 and not rep.seconds_present


def test_excel_resaved_airtel_with_a_decisive_date(ws, tmp_path):
    p = airtel_file(tmp_path, [("07/14/2023 11:34", "07/14/2023 12:00"), ("07/05/2023 09:10", "07/05/2023 09:40")],
                    "IPDR OF Mobile No : 7873019433 from 01-Jul-2023 to 17-Jul-2023", excel=True)
    rep = ingest(ws, p).loaded[0]
    assert (rep.date_order, rep.date_order_source) == ("mdy", "data")
    assert local_starts(ws) == ["2023-07-14 11:34", "2023-07-05 09:10"]


def test_ambiguous_dates_that_fit_neither_reading_of_the_period_are_refused(ws, tmp_path):
    # 03/02 is 3 Feb or 2 Mar; the preamble says July: the preamble contradicts both readings.
    p = airtel_file(tmp_path, [("03/02/2023 11:34", "03/02/2023 12:00")],
                    "IPDR OF Mobile No : 7873019433 from 01-Jul-2023 to 17-Jul-2023", excel=True)
    res = ingest(ws, p)
    assert not res.loaded
    err = res.failed[0][1]
    assert isinstance(err, DateOrderError) and "neither reading falls inside the stated period" in str(err)


def test_ambiguous_dates_that_fit_both_readings_are_refused(ws, tmp_path):
    p = airtel_file(tmp_path, [("03/02/2023 11:34", "03/02/2023 12:00")],
                    "IPDR OF Mobile No : 7873019433 from 01-Jan-2023 to 31-Dec-2023", excel=True)
    err = ingest(ws, p).failed[0][1]
    assert isinstance(err, DateOrderError) and "both day-first and month-first" in str(err)


def test_contradictory_dates_are_refused(ws, tmp_path):
    err = ingest(ws, paper_file(tmp_path, ["14/04/2023 10:00:00", "04/14/2023 11:00:00"])).failed[0][1]
    assert isinstance(err, DateOrderError) and "contradict" in str(err)


def test_ambiguous_without_a_period_is_refused_by_the_cli(capsys, tmp_path):
    p = paper_file(tmp_path, ["03/04/2023 10:00:00", "05/04/2023 11:00:00"])
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {p}: cannot tell day-first from month-first: every date reads both ways "
                      f"(e.g. 03/04/2023) and no period is stated in the preamble to decide; "
                      f"re-run this file with --date-order dmy (if 03/04/2023 is 3 April 2023) or "
                      f"--date-order mdy (if it is 4 March 2023)"]
    assert "Traceback" not in err


def test_the_refusal_quotes_a_date_as_the_file_writes_it(capsys, tmp_path):
    """The analyst looks the quoted date up in the file: ``03.04.2023`` there, not ``03/04/2023``."""
    p = paper_file(tmp_path, ["03.04.2023 10:00:00", "05.04.2023 11:00:00"])
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1
    error = next(line for line in err.splitlines() if line.startswith("error:"))
    assert "(e.g. 03.04.2023)" in error and "(if 03.04.2023 is 3 April 2023)" in error, error
    assert "03.04.2023" in p.read_text()


def test_date_order_option_forces_the_order(capsys, tmp_path):
    p = paper_file(tmp_path, ["03/04/2023 10:00:00", "05/04/2023 11:00:00"])
    ws = str(tmp_path / "ws")
    code, out, err = run_cli(capsys, "-w", ws, "ingest", "--date-order", "mdy", str(p))
    assert code == 0, err
    assert "date order mdy (set by --date-order)" in out
    from cdrnet.workspace import Workspace

    w = Workspace(ws)
    assert local_starts(w) == ["2023-03-04 10:00", "2023-05-04 11:00"]
    rep = w.reports()[0]
    assert (rep.date_order, rep.date_order_source) == ("mdy", "option")
    code, out, _ = run_cli(capsys, "-w", ws, "dumps")
    assert code == 0 and "period 2023-03-04 10:00 .. 2023-05-04 11:00 Asia/Kolkata (span of the rows" in out


def test_a_later_block_that_contradicts_the_order_is_rejected(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 2048)
    starts = [f"{d:02d}/04/2023 10:{m:02d}:00" for d in (13, 14, 15) for m in range(10)]
    starts += ["04/17/2023 10:00:00", "05/04/2023 10:00:00"]
    p = paper_file(tmp_path, starts)
    rep = ingest(ws, p).loaded[0]
    assert (rep.date_order, rep.date_order_source) == ("dmy", "data")
    assert rep.rejected == {"date_order_conflict": 1}
    assert rep.loaded == len(starts) - 1 and rep.accounted
    assert local_starts(ws)[-1] == "2023-04-05 10:00"


# ---------------------------------------------------------------- property: never silently wrong

FMT = {"dmy": "%d/%m/%Y %H:%M", "mdy": "%m/%d/%Y %H:%M"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.datetimes(min_value=pd.Timestamp("2015-01-01").to_pydatetime(),
                       max_value=pd.Timestamp("2030-12-01").to_pydatetime()),
    offsets=st.lists(st.integers(min_value=0, max_value=40 * 1440), min_size=1, max_size=30),
    order=st.sampled_from(["dmy", "mdy"]),
    with_period=st.booleans(),
)
# Every date the same both ways (1 January): either order reads them right (found by this test).
@example(first=pd.Timestamp("2015-01-01").to_pydatetime(), offsets=[0], order="mdy", with_period=True)
def test_date_order_decision_is_right_or_refused(first, offsets, order, with_period):
    times = [pd.Timestamp(first).floor("min") + pd.Timedelta(minutes=o) for o in offsets]
    cells = pd.Series([t.strftime(FMT[order]) for t in times], dtype="string")
    stated = None
    if with_period:
        lo, hi = min(times), max(times)
        stated = stated_period([f"CDR OF MSISDN : 1 from {lo:%d-%b-%Y} to {hi:%d-%b-%Y}"])
    formats = ("%d/%m/%Y %H:%M", "ISO8601")
    try:
        d = decide("x.csv", [cells], [cells], stated, formats, "auto", IST)
    except DateOrderError:
        return  # refused: fine, never wrong
    parsed = pd.to_datetime(cells, format=formats_for_order(formats, d.order)[0])
    assert parsed.tolist() == times  # right: every date read as written
    if any(t.day != t.month for t in times):  # else every date reads the same both ways
        assert d.order == order


# ---------------------------------------------------------------- layout declarations

def test_builtin_layouts_declare_end_and_volume_scope():
    got = {lay.name: (lay.end_scope, lay.volume_scope) for lay in builtin_layouts() if lay.kind == "sessions"}
    assert got == {"airtel": ("record", "record"), "jio": ("flow", "none"), "paper": ("flow", "flow"),
                   "vi": ("flow", "flow"), "vi_gprs": ("record", "record"), "airtel_dynamic": ("record", "record"),
                   "airtel_gprs": ("record", "record"), "dot_ipdr": ("flow", "flow")}


def test_user_mapping_declares_scopes(tmp_path):
    base = ('name = "x"\n[fields]\nmsisdn = "A"\nstart = "B"\nend = "C"\ndest_port = "D"\nuplink = "U"\n')
    p = tmp_path / "x.toml"
    p.write_text('end_scope = "record"\nvolume_scope = "record"\n' + base)
    lay = load_layout_file(p)
    assert (lay.end_scope, lay.volume_scope) == ("record", "record")
    p.write_text(base)
    assert (load_layout_file(p).end_scope, load_layout_file(p).volume_scope) == ("flow", "flow")
    p.write_text('end_scope = "sometimes"\n' + base)
    with pytest.raises(LayoutFileError, match="end_scope must be one of"):
        load_layout_file(p)


def jio_rows(n: int, same_second: bool) -> pd.DataFrame:
    s = make_sessions(n)
    if same_second:
        s["start"] = s["start"].iloc[0]
        s["end"] = s["start"] + pd.Timedelta(seconds=30)
    return s


def test_jio_time1_stays_per_flow_when_bursts_share_a_second(ws, tmp_path):
    p = tmp_path / "jio.csv"
    p.write_text(render(jio_rows(12, same_second=True), "jio"))
    rep = ingest(ws, p).loaded[0]
    assert rep.shared_start_share > 0.5
    assert (rep.time_level, rep.resolution_s, rep.end_scope, rep.volume_scope) == ("flow", 1, "flow", "none")


def test_undeclared_per_flow_layout_is_still_demoted(ws, tmp_path):
    p = tmp_path / "paper.csv"
    p.write_text(render(jio_rows(12, same_second=True), "paper"))
    rep = ingest(ws, p).loaded[0]
    assert rep.time_level == "session" and rep.resolution_s == 60


def test_order_stated_by_the_header_decides_only_when_data_and_period_cannot(tmp_path):
    """Jio writes '(dd/mm/yyyy)' into its column names: a Jio dump of 4-6 March (every date
    ambiguous, no preamble) is read day-first, and says why."""
    from cdrnet.loader.dateorder import header_order
    from cdrnet.synth.scenario import build_scenario
    from cdrnet.synth.simulate import simulate
    from cdrnet.workspace import Workspace

    assert header_order(["Start Date of Public IP Address allocation (dd/mm/yyyy)",
                         "TIME1 (dd/MM/yyyy HH:mm:ss)"]) == "dmy"
    assert header_order(["Date (mm/dd/yyyy)"]) == "mdy"
    assert header_order(["Session_Start_Time", "Date (dd/mm/yyyy)", "Other (mm/dd/yyyy)"]) == ""
    simulate(build_scenario("easy", subscribers=4, days=3, layout="jio", start_date="2024-03-04"), tmp_path / "c")
    ws = Workspace(tmp_path / "ws").create()
    res = ingest(ws, tmp_path / "c" / "dumps")
    assert not res.failed and res.loaded
    assert {(r.date_order, r.date_order_source) for r in res.loaded} == {("dmy", "header")}
    starts = ws.sessions()["start_utc"].dt.tz_convert("Asia/Kolkata")
    assert starts.min() >= pd.Timestamp("2024-03-04", tz="Asia/Kolkata")
    assert starts.max() < pd.Timestamp("2024-03-07", tz="Asia/Kolkata")
