"""Profiles and trends: numbers checked by hand, charts looked at, reverse DNS against a local server."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pandas as pd
import pytest
from dnslib import PTR, QTYPE, RCODE, RR, DNSRecord
from PIL import Image

from cdrnet.analysis.profile import build_profile, write_profile
from cdrnet.analysis.rdns import resolve_all
from cdrnet.analysis.trends import three_hour_table, write_trends
from tests.helpers import frame, sess

A, B = "919800000001", "919800000002"


def case() -> pd.DataFrame:
    # Local IST = UTC + 5:30. 21:29:59 UTC = 02:59:59 IST next day; 21:30:00 UTC = 03:00:00 IST.
    rows = [
        sess(A, "2024-01-01 21:29:59", "wa", up=100, down=200),
        sess(A, "2024-01-01 21:30:00", "wa", up=100, down=200),
        sess(A, "2024-01-01 18:29:59", "meta", up=10, down=20),   # 23:59:59 IST on 1 Jan
        sess(A, "2024-01-01 18:30:00", "wa", up=10, down=20),     # 00:00:00 IST on 2 Jan
        sess(A, "2024-01-03 06:00:00", "tg", up=1, down=1),
        sess(A, "2024-01-03 07:00:00", "web", up=1, down=1),
        sess(B, "2024-01-03 07:00:00", "wa"),
    ]
    f = frame(rows)
    f.loc[f.index[:3], "imei"] = "35345601234567"
    f.loc[f.index[3:6], "imei"] = "86111111111111"
    f.loc[:, "imsi"] = "404700000000001"
    f.loc[f.index[:2], "cell_id"] = "404-70-1-1"
    return f


def test_profile_table_iii():
    p = build_profile(case(), A, tz="Asia/Kolkata")
    apps = p.apps.set_index("application")
    assert p.sessions == 6
    assert apps.loc["WhatsApp", "frequency"] == 3 and apps.loc["WhatsApp", "usage_percent"] == 50.0
    assert apps.loc["WhatsApp", "volume_bytes"] == 300 + 300 + 30
    assert apps.loc["WhatsApp", "active_days"] == 1  # all three on 2 Jan IST
    assert apps.loc["Meta (WhatsApp/Facebook/Instagram)", "active_days"] == 1
    assert list(p.devices["imei"]) == ["35345601234567", "86111111111111"]
    assert p.devices.iloc[0]["first"] == "2024-01-01 23:59"
    assert p.cells.iloc[0].tolist() == ["404-70-1-1", 2]


def test_three_hour_intervals_and_midnight():
    f = case()
    t = three_hour_table(f[f["msisdn"] == A], "Asia/Kolkata").set_index("date")
    jan1, jan2 = pd.Timestamp("2024-01-01").date(), pd.Timestamp("2024-01-02").date()
    assert t.loc[jan1, "21-24"] == 1 and t.loc[jan1, "total"] == 1
    assert t.loc[jan2, "00-03"] == 2 and t.loc[jan2, "03-06"] == 1


def test_trends_files_and_charts(tmp_path):
    paths = write_trends(case(), [A], tmp_path, app="WhatsApp", tz="Asia/Kolkata")
    names = {p.name for p in paths}
    assert {f"trends_{A}_WhatsApp_connections.csv", f"trends_{A}_WhatsApp_3h.csv", f"trends_{A}_WhatsApp_per_day.csv",
            f"trends_{A}_WhatsApp_weekday.csv"} <= names
    conn = pd.read_csv(tmp_path / f"trends_{A}_WhatsApp_connections.csv", dtype=str)
    assert len(conn) == 4 and conn.iloc[0]["time"] == "23:59:59" and conn.iloc[0]["application"].startswith("Meta")
    per_day = pd.read_csv(tmp_path / f"trends_{A}_WhatsApp_per_day.csv", dtype=str)
    assert per_day["connections"].astype(int).tolist() == [1, 3]
    txt = (tmp_path / f"trends_{A}_WhatsApp_connections.txt").read_text()
    assert f"This number {A} connected to WhatsApp at 00:00:00 on date 02/01/2024 on port 5222" in txt
    for kind in ("weekday", "hour", "heatmap", "vs_case"):
        png = tmp_path / f"trends_{A}_WhatsApp_{kind}.png"
        img = np.asarray(Image.open(png).convert("L"), dtype=float)
        assert img.shape[0] >= 300 and img.shape[1] >= 600
        assert img.std() > 10  # not blank


def test_profile_outputs(tmp_path):
    paths = write_profile(case(), A, tmp_path, tz="Asia/Kolkata")
    png = [p for p in paths if p.suffix == ".png"][0]
    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.shape == (450, 800) and img.std() > 10
    text = [p for p in paths if p.suffix == ".txt"][0].read_text()
    assert "Application usage (Table III)" in text and "Asia/Kolkata" in text


class FakeDns:
    """A DNS server on 127.0.0.1 answering PTR queries from a table; others time out or NXDOMAIN."""

    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers
        self.queries: list[str] = []
        self.asked = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            q = DNSRecord.parse(data)
            name = str(q.q.qname).rstrip(".")
            with self.asked:
                self.queries.append(name)
                self.asked.notify_all()
            if name not in self.answers:
                r = q.reply()
                r.header.rcode = RCODE.NXDOMAIN
            elif self.answers[name] is None:
                continue  # simulate a timeout
            else:
                r = q.reply()
                r.add_answer(RR(q.q.qname, QTYPE.PTR, rdata=PTR(self.answers[name]), ttl=60))
            self.sock.sendto(r.pack(), addr)

    def seen(self, n: int, timeout: float = 30.0) -> list[str]:
        """The queries received once there are ``n``: a query the client gave up on may reach this
        thread after the client has moved on (a loaded machine), so counting at once would race."""
        with self.asked:
            assert self.asked.wait_for(lambda: len(self.queries) >= n, timeout), self.queries
            return list(self.queries)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns():
    server = FakeDns({"1.1.168.192.in-addr.arpa": "edge-star-mini.example.net",
                      "2.1.168.192.in-addr.arpa": "<script>alert(1)</script>.evil",
                      "3.1.168.192.in-addr.arpa": None})
    yield server
    server.close()


#: Long enough for the fake server's answers on a loaded machine (a 0.5 s timeout let an answered
#: query count as timed out whenever its thread was stalled); the silent name costs it each time.
TIMEOUT_S = 2.0


def test_reverse_dns_with_cache_timeout_and_missing(dns, tmp_path):
    cache = tmp_path / "rdns.json"
    ips = ["192.168.1.1", "192.168.1.2", "192.168.1.3", "192.168.1.4"]
    names, stats = resolve_all(ips, f"127.0.0.1:{dns.port}", timeout=TIMEOUT_S, cache_path=cache)
    assert names["192.168.1.1"] == "edge-star-mini.example.net"
    assert names["192.168.1.3"] == "" and names["192.168.1.4"] == ""
    assert stats == {"cached": 0, "ok": 2, "timeout": 1, "nxdomain": 1}
    assert sorted(dns.seen(4)) == sorted(f"{ip.split('.')[-1]}.1.168.192.in-addr.arpa" for ip in ips)
    names2, stats2 = resolve_all(ips, f"127.0.0.1:{dns.port}", timeout=TIMEOUT_S, cache_path=cache)
    assert names2 == names
    assert stats2["cached"] == 3
    assert dns.seen(5)[4:] == ["3.1.168.192.in-addr.arpa"]  # only the timed-out IP is asked again


def test_hostile_ptr_name_is_escaped_in_map(dns, tmp_path):
    from cdrnet.viz.assets import script_json

    names, _ = resolve_all(["192.168.1.2"], f"127.0.0.1:{dns.port}", timeout=TIMEOUT_S)
    blob = script_json({"title": names["192.168.1.2"]})
    assert "<script>" not in blob and "\\u003cscript\\u003e" in blob
