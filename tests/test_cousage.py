"""Exact co-usage counts on hand-built cases, the score's null, and the pair report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdrnet.analysis.cousage import LinkParams, bh_qvalues, link
from cdrnet.analysis.pair_report import pair_report
from cdrnet.analysis.sweep import window_pairs
from tests.helpers import fortnight, frame, sess

A, B, C = "919800000001", "919800000002", "919800000003"


def edge(f: pd.DataFrame, **kw) -> pd.Series:
    e = link(f, LinkParams(**kw), coverage=fortnight(f)).edges.set_index(["a", "b"])
    return e


def test_window_edges_are_inclusive():
    f = frame([sess(A, "2024-01-01 10:00:00"), sess(B, "2024-01-01 10:03:00"), sess(C, "2024-01-01 10:03:01")])
    e = edge(f, colocation=False)
    assert e.loc[(A, B), "messaging_obs"] == 1
    assert (A, C) not in e.index
    assert e.loc[(B, C), "messaging_obs"] == 1


def test_subscriber_never_pairs_with_itself_and_ties_count():
    f = frame([sess(A, "2024-01-01 10:00:00"), sess(A, "2024-01-01 12:00:00"), sess(B, "2024-01-01 10:00:00"),
               sess(C, "2024-01-01 10:00:00")])
    e = edge(f, colocation=False)
    assert set(e.index) == {(A, B), (A, C), (B, C)}
    assert (e["messaging_obs"] == 1).all()


def test_midnight_crossing():
    f = frame([sess(A, "2024-01-01 23:59:00"), sess(B, "2024-01-02 00:01:00")])
    e = edge(f, colocation=False)
    assert e.loc[(A, B), "messaging_obs"] == 1
    assert e.loc[(A, B), "first_utc"] == pd.Timestamp("2024-01-01 23:59:00", tz="UTC")
    assert e.loc[(A, B), "last_utc"] == pd.Timestamp("2024-01-02 00:01:00", tz="UTC")


def test_one_burst_counts_once_and_services_match_across_apps():
    # A opens the app five times in a minute; B once; WhatsApp (5222) and Meta 443 are one service.
    rows = ([sess(A, f"2024-01-01 10:00:{s:02d}") for s in (0, 10, 20, 30, 40)]
            + [sess(B, "2024-01-01 10:00:05", "meta")])
    e = edge(frame(rows), colocation=False)
    assert e.loc[(A, B), "messaging_obs"] == 1
    assert e.loc[(A, B), "services"] == "Meta=1"


def test_different_services_and_non_messaging_do_not_match():
    f = frame([sess(A, "2024-01-01 10:00:00", "wa"), sess(B, "2024-01-01 10:00:00", "tg"),
               sess(C, "2024-01-01 10:00:00", "web")])
    assert link(f, LinkParams(colocation=False), coverage=fortnight(f)).edges.empty


def test_apps_filter():
    f = frame([sess(A, "2024-01-01 10:00:00", "tg"), sess(B, "2024-01-01 10:00:30", "tg"),
               sess(A, "2024-01-01 11:00:00"), sess(B, "2024-01-01 11:00:30")])
    assert edge(f, colocation=False).loc[(A, B), "messaging_obs"] == 2
    assert edge(f, colocation=False, apps=["Telegram"]).loc[(A, B), "messaging_obs"] == 1


def test_call_signature():
    ok = [sess(A, "2024-01-01 10:00:00", "call", dur=300, up=5000, down=4000),
          sess(B, "2024-01-01 10:00:02", "call", dur=296, up=4100, down=4900)]
    e = edge(frame(ok), colocation=False)
    assert e.loc[(A, B), "call_obs"] == 1 and e.loc[(A, B), "messaging_obs"] == 0
    other_relay = [ok[0], sess(B, "2024-01-01 10:00:02", "call", dur=296, dest_ip="157.240.7.7")]
    assert link(frame(other_relay), LinkParams(colocation=False), coverage=fortnight(frame(other_relay))).edges.empty
    unlike = [ok[0], sess(B, "2024-01-01 10:00:02", "call", dur=30)]
    assert link(frame(unlike), LinkParams(colocation=False), coverage=fortnight(frame(unlike))).edges.empty
    late = [ok[0], sess(B, "2024-01-01 10:00:06", "call", dur=300, up=4000, down=5000)]
    assert link(frame(late), LinkParams(colocation=False), coverage=fortnight(frame(late))).edges.empty


def test_colocation_counts_same_cell_within_window():
    f = frame([sess(A, "2024-01-01 10:00:00", "web", cell="404-70-1-1"),
               sess(B, "2024-01-01 10:02:00", "web", cell="404-70-1-1"),
               sess(C, "2024-01-01 10:02:00", "web", cell="404-70-1-2")])
    e = edge(f)
    assert e.loc[(A, B), "coloc_obs"] == 1 and e.loc[(A, B), "cells"] == "404-70-1-1=1"
    assert (A, C) not in e.index


def test_overlap_mode():
    f = frame([sess(A, "2024-01-01 10:00:00", dur=600), sess(B, "2024-01-01 10:09:00", dur=10),
               sess(C, "2024-01-01 10:11:00", dur=10)])
    e = edge(f, mode="overlap", colocation=False)
    assert e.loc[(A, B), "messaging_obs"] == 1
    assert (A, C) not in e.index


def test_repeated_coincidences_score_high_and_links():
    rows = []
    for d in range(1, 11):
        rows += [sess(A, f"2024-01-{d:02d} 10:00:00"), sess(B, f"2024-01-{d:02d} 10:00:07")]
        rows += [sess(C, f"2024-01-{d:02d} {8 + d % 5:02d}:30:00")]
    e = link(frame(rows), LinkParams(colocation=False), coverage=fortnight(frame(rows))).edges
    assert (e.iloc[0]["a"], e.iloc[0]["b"]) == (A, B)
    assert e.iloc[0]["messaging_obs"] == 10 and e.iloc[0]["messaging_tight"] == 10
    assert e.iloc[0]["link"] and e.iloc[0]["score"] > 5
    assert e.columns[:3].tolist() == ["a", "b", "score"]
    assert not e[(e["a"] != A) | (e["b"] != B)]["link"].any()


def test_sweep_matches_bruteforce():
    rng = np.random.default_rng(3)
    key = np.sort(rng.integers(0, 3, 400))
    t = np.concatenate([np.sort(rng.integers(0, 5000, (key == k).sum())) for k in range(3)])
    got = set()
    for i, j in window_pairs(key, t, 120):
        got |= set(zip(i.tolist(), j.tolist(), strict=True))
    want = {(i, j) for i in range(400) for j in range(i + 1, 400) if key[i] == key[j] and t[j] - t[i] <= 120}
    assert got == want


def test_bh_qvalues():
    q = bh_qvalues(np.array([0.01, 0.04, 0.03]), 3)
    assert np.allclose(q, [0.03, 0.04, 0.04])


def test_pair_report_numbers():
    rows = [sess(A, "2024-01-01 04:30:00"), sess(B, "2024-01-01 04:31:00"), sess(B, "2024-01-01 04:32:00"),
            sess(A, "2024-01-01 05:00:00", "tg"), sess(B, "2024-01-01 05:00:30", "tg"), sess(B, "2024-01-01 09:00:00")]
    rep = pair_report(frame(rows), A, B, LinkParams(), tz="Asia/Kolkata", coverage=fortnight(frame(rows)))
    assert len(rep.instances) == 3
    assert rep.per_app.set_index("application")["instances"].to_dict() == {"WhatsApp": 2, "Telegram": 1}
    first = rep.instances.iloc[0]
    assert ((first["date1"], first["start1"], first["number2"], first["start2"])
            == ("01/01/2024", "10:00:00", B, "10:01:00"))
    assert rep.total_sessions == 6 and rep.sessions_a == 2
    text = rep.text()
    assert "There were 3 instances of overlap" in text and "66.7% of the instances" in text
    assert "Times are shown in Asia/Kolkata." in text and "expected by chance" in text


@pytest.mark.parametrize("window", [0, 60])
def test_window_zero_means_same_second(window):
    f = frame([sess(A, "2024-01-01 10:00:00"), sess(B, "2024-01-01 10:00:00"), sess(C, "2024-01-01 10:00:01")])
    e = edge(f, window_s=window, tight_window_s=0, colocation=False)
    assert ((A, B) in e.index) and (((A, C) in e.index) == (window > 0))


def test_possible_labels_count_only_when_the_analyst_opts_in():
    """Port 5222 outside Meta's ranges is "XMPP (WhatsApp possible)": not messaging evidence by default."""
    rows = []
    for d in (2, 3, 4):
        rows += [sess(A, f"2024-01-{d:02d} 10:00:00"), sess(B, f"2024-01-{d:02d} 10:00:20")]
    f = frame(rows)
    f.loc[f["msisdn"] == B, ["app", "app_vendor", "app_category"]] = ["XMPP (WhatsApp possible)", "Meta",
                                                                       "messaging_possible"]
    assert link(f, LinkParams(colocation=False), coverage=fortnight(f)).edges.empty
    e = link(f, LinkParams(colocation=False, possible_apps=True), coverage=fortnight(f)).edges
    assert e.iloc[0]["messaging_obs"] == 3
