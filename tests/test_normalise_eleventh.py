"""The eleventh round's normaliser steps against their references (issue 17): the constant columns
built in Arrow's layout directly against ``pa.repeat``, and the classifier fed the protocol step's
codes against the classifier lowering and encoding the protocol text itself."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.loader.normalize import _constant, _constant_pure, _protocol_array, _protocol_codes
from cdrnet.loader.signatures import classify_arrays, load_signatures

RULES = load_signatures("modern")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=70), st.integers(0, 300))
def test_constant_matches_repeat(value: str, n: int) -> None:
    got, want = _constant(value, n), _constant_pure(value, n)
    assert got.dtype == want.dtype
    assert pa.array(got).equals(pa.array(want))
    assert pa.array(got).type == pa.large_string()


PROTOS = st.sampled_from(["tcp", "udp", "TCP", "Udp", "6", "17", "", " tcp", "icmp", "0", "sctp"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PROTOS, st.sampled_from([-1, 0, 53, 80, 443, 5222, 3478, 5228, 65535]),
                          st.sampled_from([(4, 0, 0x08080808), (4, 0, 0x9DF00000), (4, 0, 0x1F0D4000), (0, 0, 0),
                                           (6, 0x2A03288000000000, 1)]),
                          st.sampled_from([0, 19000, 19500, 20000])), max_size=60))
def test_classifier_with_the_protocol_codes(rows: list[tuple]) -> None:
    n = len(rows)
    text = pa.array([r[0] for r in rows], pa.large_string())
    port = np.array([r[1] for r in rows], dtype=np.int64)
    ver = np.array([r[2][0] for r in rows], dtype=np.int8)
    hi = np.array([r[2][1] for r in rows], dtype=np.uint64)
    lo = np.array([r[2][2] for r in rows], dtype=np.uint64)
    day = np.array([r[3] for r in rows], dtype=np.int64)
    proto, coded = _protocol_codes(text)
    assert proto.equals(_protocol_array(text))
    assert len(coded[0]) == n
    want = classify_arrays(ver, hi, lo, port, proto, day, RULES)
    got = classify_arrays(ver, hi, lo, port, proto, day, RULES, coded)
    for name in want:
        assert got[name].equals(want[name]), name
