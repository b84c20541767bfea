"""graph/bulk_units.py: the importer's co-usage units equal a plain, row-by-row reading of
cypher/units_build.cypher (its CASEs, its ORDER BY on every field, its ``dumps`` and indexes).
tests/test_neo4j_bulk.py compares them with the statement itself on a real server."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.graph.bulk_units import definitions, units_table

DEFS = definitions()


def reference(rows: list[dict], generation: str) -> list[dict]:
    """units_build.cypher for each subscriber, one session at a time (nulls as Cypher treats them)."""
    d = DEFS
    out = []
    for m in sorted({r["msisdn"] for r in rows}):
        us = []
        xs = [r for r in rows if r["msisdn"] == m]
        for x in xs:
            t = x["start_s"]
            te = x["end_s"] if x["end_s"] is not None else t
            cat = x["app_category"]
            if cat is not None and cat in d["messaging_categories"]:
                us.append(("messaging", x["service"], t, te, x["dump_sha256"], -1, -1))
            if x["cell_id"] not in (None, ""):
                us.append(("coloc", x["cell_id"], t, te, x["dump_sha256"], -1, -1))
            port = x["dest_port"]
            relay = (port is not None and d["call_ports"][0] <= port <= d["call_ports"][1]
                     and (x["proto"] or "") in d["call_protos"])
            if x["dest_ip"] not in (None, "") and (relay or (cat is not None and cat in d["call_categories"])):
                key = None if port is None else f"{x['dest_ip']}:{port}"
                us.append(("call", key, t, te, x["dump_sha256"],
                           -1 if x["uplink"] is None else x["uplink"], -1 if x["downlink"] is None else x["downlink"]))
        # ORDER BY every field, nulls last.
        us.sort(key=lambda s: tuple((v is None, v if v is not None else "") for v in s))
        dumps: list[str] = []
        for s in us:
            if s[4] not in dumps:
                dumps.append(s[4])
        mu, cu, ku = ([s for s in us if s[0] == c] for c in ("messaging", "coloc", "call"))
        out.append({"msisdn": m, "generation": generation, "sessions": len(xs), "cats": d["messaging_categories"],
                    "usable": all(s[1] is not None for s in us), "dumps": dumps,
                    "m_key": [s[1] or "" for s in mu], "m_t": [s[2] for s in mu], "m_te": [s[3] for s in mu],
                    "m_d": [dumps.index(s[4]) for s in mu],
                    "c_key": [s[1] for s in cu], "c_t": [s[2] for s in cu], "c_te": [s[3] for s in cu],
                    "k_key": [s[1] or "" for s in ku], "k_t": [s[2] for s in ku], "k_te": [s[3] for s in ku],
                    "k_d": [dumps.index(s[4]) for s in ku], "k_up": [s[5] for s in ku], "k_down": [s[6] for s in ku],
                    "call_ports": d["call_ports"], "call_protos": d["call_protos"],
                    "call_categories": d["call_categories"]})
    return out


SESSION = st.fixed_dictionaries({
    "msisdn": st.sampled_from(["91a", "91b", "91c"]),
    "start_s": st.integers(0, 6),
    "end_s": st.none() | st.integers(0, 8),
    "app_category": st.sampled_from([None, "messaging", "call", "web", "messaging_possible"]),
    "service": st.none() | st.sampled_from(["", "WhatsApp", "Signal", "é"]),
    "cell_id": st.sampled_from([None, "", "c1", "c2"]),
    "dest_ip": st.sampled_from([None, "", "1.1.1.1", "2.2.2.2"]),
    "dest_port": st.none() | st.sampled_from([443, 3477, 3478, 3481, 3482]),
    "proto": st.sampled_from([None, "", "udp", "tcp"]),
    "uplink": st.none() | st.integers(0, 3),
    "downlink": st.none() | st.integers(0, 3),
    "dump_sha256": st.sampled_from(["d1", "d2", "d3"]),
})

TYPES = {"msisdn": pa.string(), "start_s": pa.int64(), "end_s": pa.int64(), "app_category": pa.string(),
         "service": pa.string(), "cell_id": pa.string(), "dest_ip": pa.string(), "dest_port": pa.int32(),
         "proto": pa.string(), "uplink": pa.int64(), "downlink": pa.int64(), "dump_sha256": pa.string()}


@settings(max_examples=300, deadline=None)
@given(st.lists(SESSION, min_size=1, max_size=25))
def test_units_equal_the_statement_read_row_by_row(rows):
    table = pa.table({c: pa.array([r[c] for r in rows], t) for c, t in TYPES.items()})
    assert units_table(table, "g").to_pylist() == reference(rows, "g")


def test_units_of_a_known_case():
    """Ties on key and start are ordered by end (then dump and volumes); a relay without a port makes
    the subscriber's units unusable; dumps are listed in the order their units come."""
    rows = [
        {"msisdn": "a", "start_s": 5, "end_s": 9, "app_category": "messaging", "service": "WhatsApp",
         "cell_id": "c1", "dest_ip": "1.1.1.1", "dest_port": 443, "proto": "tcp", "uplink": 1, "downlink": 2,
         "dump_sha256": "d2"},
        {"msisdn": "a", "start_s": 5, "end_s": 7, "app_category": "messaging", "service": "WhatsApp",
         "cell_id": None, "dest_ip": "1.1.1.1", "dest_port": 443, "proto": "tcp", "uplink": 1, "downlink": 2,
         "dump_sha256": "d3"},
        {"msisdn": "b", "start_s": 1, "end_s": None, "app_category": "call", "service": "x",
         "cell_id": "", "dest_ip": "2.2.2.2", "dest_port": None, "proto": "udp", "uplink": None, "downlink": 4,
         "dump_sha256": "d1"},
    ]
    table = pa.table({c: pa.array([r[c] for r in rows], t) for c, t in TYPES.items()})
    a, b = units_table(table, "g").to_pylist()
    # The cell unit (d2) comes first: 'coloc' sorts before 'messaging'.
    assert a["m_te"] == [7, 9] and a["dumps"] == ["d2", "d3"] and a["m_d"] == [1, 0] and a["c_te"] == [9]
    assert a["usable"] and a["sessions"] == 2 and a["k_t"] == []
    assert not b["usable"] and b["k_key"] == [""] and b["k_up"] == [-1] and b["k_down"] == [4]
