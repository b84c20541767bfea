"""Property-based tests for call records: every line accounted for; a call counts once however often it is seen."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.analysis.contacts import aggregate, distinct_calls
from cdrnet.synth.call_writers import CALL_LAYOUTS, render_calls
from cdrnet.workspace import Workspace
from tests.conftest import ingest
from tests.test_call_layouts import NONDATA, make_calls

FIELD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=16)
NOISE_LINE = st.one_of(
    st.lists(FIELD, min_size=0, max_size=30).map(",".join),
    st.sampled_from(["", ",,,,", "No Data Found", "*** END OF REPORT ***", "CDR COUNT : 3", '"open,quote',
                     "9.18E+11,OUT,,9800000001", "\x00"]),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(layout=st.sampled_from(CALL_LAYOUTS), noise=st.lists(st.tuples(st.integers(0, 20), NOISE_LINE), max_size=8),
       crlf=st.booleans())
def test_every_call_record_line_accounted_once(layout, noise, crlf):
    base = render_calls(make_calls(10), layout).splitlines()
    header = NONDATA[layout] - (2 if layout == "bsnl_cdr" else 0)  # the BSNL footer comes after the rows
    lines = list(base)
    for pos, text in noise:
        lines.insert(header + min(pos, len(lines) - header), text)  # noise among the rows, never above the header
    body = ("\r\n" if crlf else "\n").join(lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "cdr.csv"
        p.write_bytes(body.encode("utf-8", errors="surrogatepass"))
        ws = Workspace(Path(tmp) / "ws").create()
        res = ingest(ws, p, date_order="dmy")
        assert not res.failed and len(res.loaded) == 1
        rep = res.loaded[0]
        assert rep.layout == layout
        assert rep.loaded + rep.rejected_total + rep.nondata == rep.lines_read == len(lines)
        assert rep.loaded >= 10  # a noise line never takes a good row with it
        assert rep.loaded == len(ws.calls())


EVENT = st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from(["voice", "sms"]), st.integers(0, 3000),
                  st.integers(0, 900))


@settings(max_examples=80, deadline=None)
@given(events=st.lists(EVENT, max_size=30), seen_twice=st.lists(st.booleans(), max_size=30),
       jitter=st.integers(0, 5), seed=st.integers(0, 1000))
def test_a_call_counts_once_however_often_it_is_seen(events, seen_twice, jitter, seed):
    people = [f"9198000000{i:02d}" for i in range(5)]
    calls = [(people[a], people[b], t, s, d) for a, b, t, s, d in events if a != b]
    # Calls of one pair start 20 s apart or more: with a switch up to 5 s late, two calls never look like one.
    calls = pd.DataFrame(calls, columns=["caller", "callee", "type", "start", "duration"])
    calls["start"] = calls["start"] * 20
    calls = calls.drop_duplicates(["caller", "callee", "type", "start"])
    t0 = pd.Timestamp("2026-03-14", tz="UTC")
    rows = []
    for k, c in enumerate(calls.itertuples(index=False)):  # the caller's CDR, and maybe the callee's too
        start = t0 + pd.Timedelta(seconds=int(c.start))
        rows.append((c.caller, c.caller, c.callee, c.type, start, c.duration, "A"))
        if k < len(seen_twice) and seen_twice[k]:
            rows.append((c.callee, c.caller, c.callee, c.type, start + pd.Timedelta(seconds=jitter), c.duration, "B"))
    events_frame = pd.DataFrame(rows, columns=["msisdn", "caller", "callee", "type", "start_utc", "duration_s",
                                               "dump_sha256"])
    events_frame["source_line"] = np.arange(len(events_frame))
    shuffled = events_frame.sample(frac=1.0, random_state=seed)
    assert len(distinct_calls(shuffled)) == len(calls)
    agg = aggregate(shuffled)
    assert int(agg["calls"].sum() + agg["sms"].sum()) == len(calls)
    voice = calls[calls["type"] == "voice"]
    assert int(agg["seconds"].sum()) == int(voice["duration"].sum())
    assert aggregate(shuffled).equals(aggregate(events_frame))  # the order rows arrive in changes nothing
