"""One clock (issue 15): everything shown to people is in the case's zone and says which.

A Jio day near midnight is the test: Jio writes IST wall-clock times, and a session at
00:10 IST on 4 March is 18:40 UTC on 3 March. Printed in UTC it reads as the wrong date;
every command here must show 04/03 and name the zone, while machine columns keep UTC
under names that say so. ``--since``/``--until`` are days on the case's clock.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli

A, B = "917000000001", "917000000002"
JIO_HEADER = ("Landline/MSISDN/MDN/Leased Circuit ID for Internet Access,Source IP Address (IP Address "
              "Assigned/Translated),Source Port (Port Assigned/Translated),Public IP Address,Public IP Port,"
              "Destination IP Address,Destination Port,Start Date of Public IP Address allocation (dd/mm/yyyy),"
              "IST Start Time of Public IP address allocation (hh:mm:ss),End Date of Public IP address allocation "
              "(dd/mm/yyyy),IST End Time of Public IP address allocation (hh:mm:ss),Static/Dynamic IP Address "
              "Allocation,User Id for internet Access based on authentication,Source MAC-ID Address/Other device "
              "Identification number,IMSI,PGW IP address,Access Point Name,CGI ID,TIME1 (dd/MM/yyyy HH:mm:ss),"
              "Roaming Circle Indicator,Roaming Circle,Session Duration")
#: Every day 4-7 March 2024 at these IST times; B answers 10 s after A.
TIMES = ["00:10:00", "12:00:00", "23:50:00"]
DAYS = ["04/03/2024", "05/03/2024", "06/03/2024", "07/03/2024"]


def jio_dump(path: Path, msisdn: str, lag_s: int) -> Path:
    rows = [JIO_HEADER]
    for day in DAYS:
        for t in TIMES:
            ts = pd.Timestamp(pd.to_datetime(f"{day} {t}", dayfirst=True)) + pd.Timedelta(seconds=lag_s)
            lo = ts.floor("30min")
            hi = lo + pd.Timedelta(minutes=30)
            rows.append(f"{msisdn},2409:40c1::1,40000,49.36.1.1,6000,157.240.1.35,5222,{lo:%d/%m/%Y},{lo:%H:%M:%S},"
                        f"{hi:%d/%m/%Y},{hi:%H:%M:%S},Dynamic,{msisdn},356047769591480,404860040053689,"
                        f"2405:200::1,jionet,4058740000e718,{ts:%d/%m/%Y %H:%M:%S},HOME,Gujarat,60")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    jio_dump(d / "jio_a.csv", A, 0)
    jio_dump(d / "jio_b.csv", B, 10)
    ws = tmp_path / "ws"
    code, _, err = run_cli(capsys, "-w", str(ws), "ingest", str(d))
    assert code == 0, err
    return ws


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_dumps_show_the_case_zone_by_default_and_tz_on_request(case: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "-w", str(case), "dumps")
    assert code == 0
    assert "period 2024-03-04 00:10 .. 2024-03-07 23:50 Asia/Kolkata (span of the rows: no period stated)" in out
    assert "times in Asia/Kolkata (the case's zone)" in out
    assert "+00:00" not in out  # the ingest time too is on the case's clock
    code, out, _ = run_cli(capsys, "-w", str(case), "dumps", "--tz", "UTC")
    assert code == 0
    assert "period 2024-03-03 18:40 .. 2024-03-07 18:20 UTC (span of the rows: no period stated)" in out
    assert "times in UTC (the case's zone is Asia/Kolkata)" in out
    code, out, _ = run_cli(capsys, "-w", str(case), "dumps", "-v")
    assert "time span 2024-03-04 00:10 .. 2024-03-07 23:50 Asia/Kolkata (first and last session start)" in out
    assert re.search(r"ingested \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Kolkata by cdrnet", out)


def test_case_zone_is_the_ingest_zone(tmp_path: Path, capsys) -> None:
    jio_dump(tmp_path / "jio_a.csv", A, 0)
    ws = tmp_path / "ws"
    assert run_cli(capsys, "-w", str(ws), "ingest", "--tz", "Asia/Dubai", str(tmp_path / "jio_a.csv"))[0] == 0
    code, out, _ = run_cli(capsys, "-w", str(ws), "dumps")
    assert "period 2024-03-04 00:10 .. 2024-03-07 23:50 Asia/Dubai" in out
    assert "times in Asia/Dubai (the case's zone)" in out
    code, out, _ = run_cli(capsys, "-w", str(ws), "profile", A)
    assert "first seen 2024-03-04 00:10, last seen 2024-03-07 23:50 (Asia/Dubai)" in out


def test_unknown_zone_is_one_line_and_exit_1(case: Path, capsys) -> None:
    for cmd in (["dumps"], ["profile", A], ["trends", A], ["map"], ["evidence", A, B], ["pair", A, B], ["link"]):
        code, out, err = run_cli(capsys, "-w", str(case), *cmd, "--tz", "Mars/Base")
        assert (code, err) == (1, "error: unknown time zone 'Mars/Base'\n"
                                  "hint: use an IANA name such as Asia/Kolkata or UTC\n"), cmd


def test_evidence_csv_and_page_in_the_case_zone(case: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "-w", str(case), "evidence", A, B)
    assert code == 0, err
    ev = pd.read_csv(case / "evidence" / f"evidence_{A}_{B}.csv", dtype=str)
    first = ev[ev["evidence"] == "messaging"].iloc[0]
    assert (first["a_start"], first["a_start_utc"], first["b_start"], first["zone"]) == (
        "2024-03-04 00:10:00", "2024-03-03T18:40:00Z", "2024-03-04 00:10:10", "Asia/Kolkata")
    page = (case / "evidence" / f"evidence_{A}_{B}.html").read_text(encoding="utf-8")
    assert "All times are in Asia/Kolkata" in page
    assert "<td>2024-03-04 00:10:00</td>" in page
    assert "2024-03-03T18:40:00Z" not in page  # UTC stays in the machine columns of the CSV
    assert "<td>first (Asia/Kolkata)</td><td>2024-03-04 00:10:00</td>" in page


def test_pair_profile_trends_map_read_the_right_date(case: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "-w", str(case), "pair", A, B)
    assert code == 0
    assert f"WhatsApp\t5222\t{A}\t04/03/2024\t00:10:00" in out
    assert "Times are shown in Asia/Kolkata." in out
    code, out, _ = run_cli(capsys, "-w", str(case), "profile", A)
    assert "first seen 2024-03-04 00:10, last seen 2024-03-07 23:50 (Asia/Kolkata)" in out
    code, out, _ = run_cli(capsys, "-w", str(case), "trends", A)
    assert code == 0
    per_day = pd.read_csv(case / "trends" / f"trends_{A}_WhatsApp_per_day.csv", dtype=str)
    assert per_day.iloc[0].tolist()[:3] == [A, "2024-03-04", "3"] and per_day.iloc[0]["zone"] == "Asia/Kolkata"
    listing = pd.read_csv(case / "trends" / f"trends_{A}_WhatsApp_connections.csv", dtype=str)
    assert listing.iloc[0][["date", "time", "zone"]].tolist() == ["04/03/2024", "00:10:00", "Asia/Kolkata"]
    instances = pd.read_csv(case / "pairs" / f"pair_{A}_{B}.csv", dtype=str)
    assert instances.iloc[0][["date1", "start1", "zone"]].tolist() == ["04/03/2024", "00:10:00", "Asia/Kolkata"]
    code, out, _ = run_cli(capsys, "-w", str(case), "map")
    page = (case / "map.html").read_text(encoding="utf-8")
    assert "data from 2024-03-04 00:10 to 2024-03-07 23:50 Asia/Kolkata" in page
    assert "first 2024-03-04 00:10" in page and "(Asia/Kolkata)" in page
    code, out, _ = run_cli(capsys, "-w", str(case), "map", "--tz", "UTC", "--out", str(case / "utc.html"))
    assert "data from 2024-03-03 18:40 to 2024-03-07 18:20 UTC" in (case / "utc.html").read_text(encoding="utf-8")


def test_since_until_are_days_on_the_case_clock(case: Path, capsys) -> None:
    # 7 March on the IST clock: 00:10, 12:00 and 23:50 for each of the two subscribers.
    code, out, _ = run_cli(capsys, "-w", str(case), "link", "--since", "2024-03-07")
    assert code == 0
    assert "2 subscribers, 6 sessions;" in out
    # With an offset the text means what it says: from 05:30 IST, so 00:10 is left out.
    code, out, _ = run_cli(capsys, "-w", str(case), "link", "--since", "2024-03-07T00:00Z")
    assert "2 subscribers, 4 sessions;" in out
    code, out, _ = run_cli(capsys, "-w", str(case), "link", "--since", "2024-03-07", "--tz", "UTC")
    assert "2 subscribers, 4 sessions;" in out
    code, out, _ = run_cli(capsys, "-w", str(case), "link", "--until", "2024-03-05")
    assert "2 subscribers, 6 sessions;" in out
    code, out, _ = run_cli(capsys, "-w", str(case), "pair", A, B, "--since", "2024-03-07")
    assert "04/03/2024" not in out and f"WhatsApp\t5222\t{A}\t07/03/2024\t00:10:00" in out


@pytest.mark.parametrize(("command", "meaning"), [
    ("ingest", "Zone of naive times in the dumps (stored as UTC). It becomes the case's zone"),
    ("dumps", "Zone of every time shown [default: the case's zone"),
    ("profile", "Zone of every time shown [default: the case's zone"),
    ("trends", "Zone of every time shown [default: the case's zone"),
    ("map", "Zone of every time shown and of --since/--until without an offset"),
    ("evidence", "Zone of every time shown and of --since/--until without an offset"),
    ("link", "Zone of --since/--until without an offset"),
    ("pair", "The case's zone: naive times in two dump FILES are read in it"),
])
def test_tz_help_says_what_it_means(capsys, command: str, meaning: str) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert meaning in flat(out)
    if command in ("map", "evidence", "link", "pair"):
        assert "read in the case's zone (--tz) unless it carries an offset (Z, +05:30)" in flat(out)
