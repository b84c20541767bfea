"""Time slices of the Neo4j co-usage statement (graph/cousage.py): the cuts, without a server.

That the slices give the same edges as one statement is tested against a real Neo4j in
tests/test_neo4j.py (test_time_slices_give_the_same_edges_and_a_refusal_cuts_again).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.graph.cousage import MAX_SLICES, MIN_SESSIONS_PER_SLICE, _first_slices, _slice_bounds

INF = 1 << 62


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 500_000), st.integers(1, 10_000), min_size=1, max_size=200),
       st.integers(1, 64))
def test_slices_cover_all_time_end_to_end_at_hour_starts(hist, n):
    hours = np.array(list(hist), dtype=np.int64)
    counts = np.array(list(hist.values()), dtype=np.int64)
    bounds = _slice_bounds(hours, counts, n)
    assert 1 <= len(bounds) <= n
    assert bounds[0][0] == -INF and bounds[-1][1] == INF
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
    cuts = [b[0] for b in bounds[1:]]
    assert all(c % 3600 == 0 and hours.min() * 3600 < c <= hours.max() * 3600 for c in cuts)
    # Every session falls in exactly one slice (each hour wholly in one).
    owner = np.searchsorted(np.array(cuts, dtype=np.int64), hours * 3600, side="right")
    assert np.bincount(owner, weights=counts, minlength=len(bounds)).sum() == counts.sum()


def test_slices_hold_about_equal_sessions_even_beside_a_stray_row_years_away():
    hours = np.array([0, *range(500_000, 500_120)], dtype=np.int64)  # one stray hour, then 5 dense days
    counts = np.array([1, *[100] * 120], dtype=np.int64)
    bounds = _slice_bounds(hours, counts, 4)
    cuts = np.array([b[0] for b in bounds[1:]], dtype=np.int64)
    per = np.bincount(np.searchsorted(cuts, hours * 3600, side="right"), weights=counts)
    assert len(bounds) == 4 and per.max() - per.min() <= 100


def test_first_guess_is_one_statement_while_the_sessions_fit():
    assert _first_slices(10**6, 2 * 10**9) == 1
    assert _first_slices(10**6, 0) == 1  # the server gave no limit
    assert _first_slices(3 * 10**6, 10**9) == 3
    assert _first_slices(10**7, 1) == -(-10**7 // MIN_SESSIONS_PER_SLICE)
    assert _first_slices(10**12, 10**6) == MAX_SLICES


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(-30_000, 80_000),
                          st.integers(-40_000, 40_000)), min_size=1, max_size=50))
def test_numbered_subscribers_and_packed_days_come_back_as_names_and_days(matches):
    """The co-usage statement returns a match's pair as ``a * size($msisdns) + b`` (subscribers as
    their indexes in $msisdns) and its two days as ``da * 2^32 + db - da`` (cypher/episodes_match.cypher,
    Java longs): _named must give back the names and both days, whatever their order or sign (cases
    before 1970, a later episode on the day before or long after)."""
    from cdrnet.graph.cousage import _named

    names = np.array([f"91{i:010d}" for i in range(100)], dtype=object)
    row = {"a": [a * len(names) + b for a, b, _, _ in matches], "b": [], "key": ["k"] * len(matches),
           "da": [da * 4294967296 + (da + diff) - da for _, _, da, diff in matches], "db": []}
    got = _named(row, "match", names)
    assert got["a"] == [names[a] for a, _, _, _ in matches]
    assert got["b"] == [names[b] for _, b, _, _ in matches]
    assert got["da"] == [da for _, _, da, _ in matches]
    assert got["db"] == [da + diff for _, _, da, diff in matches]
    assert got["key"] == row["key"]
    bins = _named({"a": [3, 0, 99], "b": [], "da": [5, -1, 7]}, "bin", names)
    assert bins["a"] == [names[3], names[0], names[99]] and bins["da"] == [5, -1, 7]
