"""Hand-made canonical sessions: the benchmarks' worst cases and the tests' exact-count cases.

In bench/ (installed with it) so ``python -m bench`` runs on a plain install without the tests;
tests/helpers.py re-exports them.
"""

from __future__ import annotations

import itertools

import pandas as pd

_ids = itertools.count()

APPS = {
    "wa": ("WhatsApp", "Meta", "messaging", "157.240.1.1", 5222, "tcp"),
    "meta": ("Meta (WhatsApp/Facebook/Instagram)", "Meta", "messaging", "2a03:2880::1", 443, "tcp"),
    "tg": ("Telegram", "Telegram", "messaging", "149.154.167.50", 443, "tcp"),
    "web": ("Web (HTTPS)", "", "web", "8.8.4.4", 443, "tcp"),
    "call": ("WhatsApp call", "Meta", "call", "157.240.9.9", 3478, "udp"),
}


def sess(msisdn: str, start: str, app: str = "wa", dur: int = 30, cell: str = "", dest_ip: str | None = None,
         up: int | None = 1000, down: int | None = 2000, end: str | None = None) -> dict:
    name, vendor, cat, ip, port, proto = APPS[app]
    st = pd.Timestamp(start, tz="UTC")
    return {"session_key": f"k{next(_ids)}", "msisdn": msisdn, "start_utc": st,
            "end_utc": pd.Timestamp(end, tz="UTC") if end else st + pd.Timedelta(seconds=dur),
            "app": name, "app_vendor": vendor, "app_category": cat, "dest_ip": dest_ip or ip, "dest_port": port,
            "proto": proto, "cell_id": cell, "uplink": up, "downlink": down, "imei": "", "imsi": "",
            "dump_sha256": "x", "source_line": 1}


def frame(rows: list[dict]) -> pd.DataFrame:
    f = pd.DataFrame(rows)
    f["dest_port"] = f["dest_port"].astype("Int64")
    f["uplink"] = f["uplink"].astype("Int64")
    f["downlink"] = f["downlink"].astype("Int64")
    return f


