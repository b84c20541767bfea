"""Local times to UTC by one subtraction (``timeparse.local_to_utc_seconds``) give what pandas'
``tz_localize`` gives (``timeparse.to_utc``), at and around every zone's transitions (daylight
saving in both hemispheres, half-hour and 30-minute shifts, a zone that never changed), with
missing times; and the stated period's readings are remembered without changing them (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.loader.dateorder import stated_readings
from cdrnet.loader.period import StatedPeriod
from cdrnet.loader.timeparse import NAT, _zone_table, local_to_utc_seconds, steady_offset, to_utc

ZONES = ["Asia/Kolkata", "Europe/London", "America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe",
         "Asia/Kathmandu", "Africa/Casablanca", "Asia/Tehran", "Pacific/Chatham", "UTC", "Etc/GMT-5",
         "Asia/Dhaka", "Europe/Moscow"]
DAY = 86400


def _reference(local: np.ndarray, tz: str) -> pd.api.extensions.ExtensionArray:
    return to_utc(pd.Series(local.view("datetime64[s]")), tz).array


@st.composite
def _local_times(draw: st.DrawFn) -> tuple[np.ndarray, str]:
    tz = draw(st.sampled_from(ZONES))
    table = _zone_table(tz)
    trans = table[0] if table is not None else np.zeros(0, np.int64)
    if len(trans) and draw(st.booleans()):  # around one of the zone's transitions
        centre = int(trans[draw(st.integers(0, len(trans) - 1))]) + draw(st.integers(-4 * DAY, 4 * DAY))
    else:  # anywhere from 1850 to 2100
        centre = draw(st.integers(-3_786_825_600, 4_102_444_800))
    span = draw(st.sampled_from([0, 3600, DAY, 5 * DAY, 40 * DAY, 400 * DAY]))
    offsets = draw(st.lists(st.integers(0, span), min_size=0, max_size=40))
    local = np.array([centre + o for o in offsets], dtype=np.int64)
    if len(local) and draw(st.booleans()):
        local[draw(st.lists(st.integers(0, len(local) - 1), max_size=5))] = NAT
    return local, tz


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_local_times())
def test_subtraction_matches_tz_localize(case: tuple[np.ndarray, str]) -> None:
    local, tz = case
    got, want = local_to_utc_seconds(local, tz), _reference(local, tz)
    assert got.dtype == want.dtype
    assert np.array_equal(np.asarray(got.asi8), np.asarray(want.asi8))


def test_every_minute_of_a_transition_day() -> None:
    """Every minute of the days around London's and Lord Howe's changes of 2023, gap and overlap
    included (these go to pandas), and each day alone (the subtraction where no change is near)."""
    for tz, days in (("Europe/London", ("2023-03-26", "2023-10-29")), ("Australia/Lord_Howe", ("2023-04-02",))):
        for day in days:
            start = int(pd.Timestamp(day).timestamp())
            for lo, hi in ((start - 3 * DAY, start + 3 * DAY), (start - 40 * DAY, start - 3 * DAY)):
                local = np.arange(lo, hi, 60, dtype=np.int64)
                got, want = local_to_utc_seconds(local, tz), _reference(local, tz)
                assert np.array_equal(np.asarray(got.asi8), np.asarray(want.asi8)), (tz, day, lo)


def test_the_subtraction_is_taken_where_no_change_is_near(monkeypatch) -> None:
    """The zone table's reading; whether pandas converts with the same zone data is the test below's
    (pandas 2, which pyproject.toml allows, does not, and is never given the subtraction)."""
    from cdrnet.loader import timeparse

    monkeypatch.setattr(timeparse, "pandas_uses_zoneinfo", lambda _tz: True)
    july = int(pd.Timestamp("2023-07-13").timestamp())
    assert steady_offset("Asia/Kolkata", july, july + 20 * DAY) == 19800  # no change since 1945
    spring = int(pd.Timestamp("2023-03-26 01:30").timestamp())
    assert steady_offset("Europe/London", spring - DAY, spring) is None  # a change within two days
    assert steady_offset("Nowhere/Such_Zone", july, july) is None
    assert steady_offset("../etc/passwd", july, july) is None


def test_only_missing_times() -> None:
    local = np.full(5, NAT, dtype=np.int64)
    got = local_to_utc_seconds(local, "Europe/London")
    assert got.isna().all() and got.dtype == _reference(local, "Europe/London").dtype
    assert len(local_to_utc_seconds(np.zeros(0, np.int64), "Asia/Kolkata")) == 0


_PERIOD_TEXT = st.one_of(
    st.sampled_from(["13-Jul-2023 00:00:00", "2023-07-29 23:59:59", "02/03/2026", "31/03/2026", "03.02.26",
                     "29-Jul-2023", "bad", ""]),
    st.text(alphabet="0123456789-/.: JulAug", max_size=20))


@settings(max_examples=200, deadline=None)
@given(_PERIOD_TEXT, _PERIOD_TEXT)
def test_remembered_readings_are_the_periods(start: str, end: str) -> None:
    want = StatedPeriod(start, end, "line").readings()
    first = stated_readings(start, end)
    assert first == want
    first.clear()  # a caller's change does not reach the next caller
    assert stated_readings(start, end) == want


def test_a_whole_year_past_the_listed_transitions() -> None:
    """Past its file's last transition a zone follows its TZ rule: London's has daylight saving (the
    year's summer must not take January's offset, though both ends of the range agree), São Paulo's
    and Kolkata's have none."""
    for tz in ("Europe/London", "America/New_York", "America/Sao_Paulo", "Asia/Kolkata"):
        for year in (2030, 2045, 2090):
            lo = int(pd.Timestamp(f"{year}-01-01").timestamp())
            local = np.arange(lo, lo + 366 * DAY, 3 * 3600 + 17, dtype=np.int64)
            got, want = local_to_utc_seconds(local, tz), _reference(local, tz)
            assert np.array_equal(np.asarray(got.asi8), np.asarray(want.asi8)), (tz, year)


def test_no_subtraction_when_pandas_converts_with_other_zone_data(monkeypatch) -> None:
    """pandas 2 converts a zone name with pytz's own zone database, whose rules can differ from the
    system's files read here (America/Vancouver in late 2026): the subtraction is then not used."""
    from cdrnet.loader import timeparse

    lo = int(pd.Timestamp("2023-07-13").timestamp())
    timeparse.pandas_uses_zoneinfo.cache_clear()
    assert timeparse.pandas_uses_zoneinfo("Asia/Kolkata") is (pd.__version__ >= "3")
    assert (steady_offset("Asia/Kolkata", lo, lo + 3600) == 19800) is (pd.__version__ >= "3")

    class PytzLike:  # what pandas 2 attaches: not a zoneinfo.ZoneInfo
        pass

    monkeypatch.setattr(timeparse, "_pandas_zone", lambda _tz: PytzLike())
    timeparse.pandas_uses_zoneinfo.cache_clear()
    try:
        assert steady_offset("Asia/Kolkata", lo, lo + 3600) is None
        local = np.array([lo, lo + 60, NAT], dtype=np.int64)
        got = local_to_utc_seconds(local, "Asia/Kolkata")  # pandas' own conversion, same times here
        assert list(got[:2]) == [pd.Timestamp(lo - 19800, unit="s", tz="UTC"),
                                 pd.Timestamp(lo + 60 - 19800, unit="s", tz="UTC")]
        assert pd.isna(got[2])
    finally:
        monkeypatch.undo()
        timeparse.pandas_uses_zoneinfo.cache_clear()
