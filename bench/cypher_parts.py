"""Where the Cypher co-usage statement spends the server's CPU: its parts run as queries of their own.

``python -m bench.cypher_side`` times the whole statement; this cuts the same statement (the text
``link_neo4j`` would run, with its parameters, on the graph ``--load`` made) after each step and
runs the prefixes, so each step's cost is the difference between two neighbouring rows. Rounds
alternate the parts, because the server's CPU seconds for one statement vary by 10-20% between
runs on a shared machine (young-generation GC is a large share of them)::

    python -m bench.cypher_parts FRAME.parquet            # every part, 2 rounds
    python -m bench.cypher_parts FRAME.parquet --rounds 3 full episodes
    python -m bench.cypher_parts FRAME.parquet --stored   # from the stored co-usage units

Prints one JSON line per part: server CPU seconds per round, their median, and what the part
returned (row counts), so a cut that changed the work shows. Part names and where each is cut:

- ``walk``: the subscribers' sessions reached (expansion only); ``read``: plus the properties the
  statement reads; ``units``: the unit rows (one per session and channel); ``sorted``: the
  per-subscriber sort and collect per key; ``episodes``: the episode lists, collected per channel;
- ``bins``: episodes plus the null model's bins only; ``matches``: episodes plus the matches only;
  ``sweep_sort``: the matches' sort of all episodes by key and start; ``sweep_pairs``: the
  sweep's candidate pairs; ``full``: the whole statement.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd

from bench.cypher_side import CASE, _driver, _server_cpu


class MarkerMissing(RuntimeError):
    """The statement no longer holds a line a part is cut at (the Cypher files changed)."""


def statement(frame_path: Path) -> tuple[str, dict]:
    """The text and parameters ``link_neo4j`` runs for the sessions of ``frame_path`` (nothing run)."""
    import cdrnet.graph.cousage as mod
    from cdrnet.analysis.cousage import LinkParams
    from cdrnet.analysis.observed import Coverage

    cov = Coverage.from_sessions(pd.read_parquet(frame_path))
    got: dict = {}
    real = mod.read_text

    def grab(_drv, text, p, *_args, **_kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - read_text's shape
        got["text"], got["params"] = text, p
        return []

    mod.read_text = grab
    driver = _driver()
    try:
        mod.link_neo4j(driver, LinkParams(), write_edges=False, coverage=cov, case=CASE)
    finally:
        mod.read_text = real
        driver.close()
    return got["text"], got["params"]


def _at(text: str, marker: str) -> int:
    i = text.find(marker)
    if i < 0:
        raise MarkerMissing(f"no line {marker.strip()[:60]!r} in the statement")
    return i


def live_statement(text: str) -> str:
    """The statement without its stored-units branch: what it runs for subscribers whose co-usage
    units are not stored (every step below reads the sessions)."""
    a = _at(text, "OPTIONAL MATCH (u:CoUsageUnits")
    live = "  WITH sub, u WHERE u IS NULL\n"
    return text[:a] + "CALL (sub) {\n" + text[_at(text, live) + len(live):]


def parts(text: str, stored: bool = False) -> dict[str, str]:
    """Prefixes of the statement's live path (:func:`live_statement`), each closed with a RETURN of
    row counts; "full" is the whole statement. With ``stored`` the parts from "episodes" on cut the
    whole statement instead, which reads the stored co-usage units where they are valid (build them
    first with one ``cypher_side`` run); the session parts before it are left out."""
    full, text = text, live_statement(text)
    close_inner = "\n  }\n  RETURN sum(c) AS c\n}\nRETURN sum(c) AS c"
    walk_at = _at(text, "    WITH x, x.start_s AS t")
    read = ("    RETURN count(x) AS c, sum(x.start_s) AS s1, count(x.end_s) AS s2, count(x.app_category) AS s3,"
            " count(x.dump_sha256) AS s4, count(x.service) AS s5, count(x.cell_id) AS s6, count(x.dest_ip) AS s7,"
            " count(x.dest_port) AS s8, count(x.proto) AS s9, count(x.uplink) AS s10, count(x.downlink) AS s11")
    out = {"walk": text[:walk_at] + "    RETURN count(x) AS c" + close_inner,
           "read": text[:walk_at] + read + close_inner,
           "units": text[:_at(text, "  WITH $codes[sub.msisdn] AS m, s[0] AS channel")] + "  RETURN count(s) AS c\n}\n"
                                                                                   "RETURN sum(c) AS c",
           "sorted": text[:_at(text, "  WITH m, channel, key, ts, $channels[channel].gap AS gap")]
           + "  RETURN count(ts) AS c\n}\nRETURN sum(c) AS c"}
    if stored:
        out, text = {}, full
    eps_at = _at(text, "WITH channel, collect(g) AS eps")
    out["episodes"] = text[:eps_at] + "WITH channel, collect(g) AS eps RETURN channel, size(eps) AS c"
    call_at = _at(text, "CALL (channel, eps) {")
    union = "  UNION ALL\n  WITH channel, eps, $channels[channel] AS p"
    union_at = _at(text, union)
    matches = text[:call_at] + "CALL (channel, eps) {\n" + text[union_at + len("  UNION ALL\n"):]
    out["bins"] = text[:union_at] + "\n}\nRETURN channel, size(a) AS c"
    out["matches"] = matches
    overlap = "\n  UNION ALL WITH eps, p WHERE p.overlap RETURN 1 AS x, 1 AS y\n  }\n"
    counted = "  RETURN channel AS ch, count(*) AS c\n}\nRETURN ch, c"
    out["sweep_sort"] = (matches[:_at(matches, "      RETURN e[1] AS key, collect(e) AS l")]
                         + "      RETURN count(e) AS n\n    }\n    RETURN n AS x, 1 AS y" + overlap + counted)
    out["sweep_pairs"] = matches[:_at(matches, "  WITH channel, p, x, CASE WHEN x[0] < y[0]")] + counted
    out["full"] = full
    return out


def _shape(records: list) -> list:
    """What a part returned, small: a count per row, or a list's length."""
    return [[v if not isinstance(v, list) else len(v) for v in list(r.values())[:3]] for r in records][:6]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("frame", type=Path, help="sessions as Parquet (the graph holds them: cypher_side --load)")
    ap.add_argument("names", nargs="*", help="parts to run (default: all, in order)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--stored", action="store_true",
                    help="cut the statement as it runs on stored co-usage units (the parts from 'episodes' on)")
    args = ap.parse_args()
    text, params = statement(args.frame)
    every = parts(text, stored=args.stored)
    names = args.names or list(every)
    driver = _driver()
    cpu: dict[str, list[float]] = {n: [] for n in names}
    shape: dict[str, list] = {}
    for _ in range(args.rounds):
        for n in names:
            s0 = _server_cpu()
            records, _, _ = driver.execute_query(every[n], params, routing_="r")
            cpu[n].append(round(_server_cpu() - s0, 2))
            shape[n] = _shape(records)
    driver.close()
    for n in names:
        print(json.dumps({"part": n, "server_cpu_s": cpu[n], "median": statistics.median(cpu[n]),
                          "returned": shape[n]}))


if __name__ == "__main__":
    main()
