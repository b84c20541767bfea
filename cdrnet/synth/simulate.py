"""Simulate a case: one IPDR dump per subscriber, as police receive them, plus the truth.

The model generates the evidence an analyst meets, not the answer: diurnal
rhythms with personal shifts, push channels that are open all day, background
web traffic, messaging sessions that stay open while the app is in the
foreground, chats with people outside the data set, heavy users, receivers who
read minutes or hours later, group chats, voice calls through a relay, device
and SIM changes and cells that follow the subscriber. Generation is
vectorised per day and streamed to disk, so size is bounded by one day.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cdrnet import __version__
from cdrnet.synth.scenario import Scenario, layout_weights
from cdrnet.synth.writers import add_record_totals, body, footer, header, partial_records, preamble

META_EDGES = ["157.240.16.52", "157.240.198.60", "31.13.79.53", "157.240.239.60", "2a03:2880:f00c:181:face:b00c:0:2"]
TELEGRAM_DCS = ["149.154.167.50", "149.154.167.51", "91.108.56.130", "2001:b28:f23d:f001::a"]
SHARED_CLOUD = ["13.248.212.111", "76.223.92.165", "52.84.150.11", "104.18.32.7"]  # Signal-like + ordinary web
WEB = ["142.250.183.14", "104.16.85.20", "23.45.12.8", "13.107.42.14", "151.101.1.69", "52.84.150.11", "104.18.32.7"]
DNS = ["8.8.8.8", "1.1.1.1", "49.44.112.1"]
FCM = ["142.250.4.188", "74.125.24.188", "142.251.10.188"]
APNS = ["17.57.144.10", "17.57.146.20", "17.188.166.13"]
MAIL = ["142.250.4.108", "40.99.34.210"]
DIURNAL = np.array([0.3, 0.15, 0.08, 0.05, 0.05, 0.1, 0.35, 0.8, 1.1, 1.2, 1.2, 1.25, 1.35, 1.3, 1.15, 1.1,
                    1.15, 1.25, 1.4, 1.6, 1.8, 1.85, 1.5, 0.8])

# Application channels: index -> (name, ip pool, ports, port weights)
APP_WHATSAPP, APP_TELEGRAM, APP_SIGNAL = 0, 1, 2


@dataclass
class Population:
    """Fixed attributes of the simulated subscribers and their planted links."""

    msisdn: np.ndarray
    android: np.ndarray
    activity: np.ndarray
    cdf: np.ndarray  # (n, 24) cumulative hourly activity
    has_app: np.ndarray  # (n, 3) bool
    home_cell: np.ndarray
    work_cell: np.ndarray
    edge: np.ndarray  # preferred Meta edge per subscriber
    imei: np.ndarray  # (n, 2): before/after a device change
    imsi: np.ndarray
    change_day: np.ndarray  # day index of device change (or days: never)
    sim_day: np.ndarray
    pairs: np.ndarray  # (p, 2) chat pairs
    call_pairs: np.ndarray
    groups: list[np.ndarray]


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.array(["".join(map(str, r)) for r in rng.integers(0, 10, (n, width))])


def build_population(sc: Scenario, rng: np.random.Generator) -> Population:
    n = sc.subscribers
    numbers = set()
    while len(numbers) < n:
        first = rng.choice(["9", "8", "7"])
        numbers.add("91" + first + "".join(map(str, rng.integers(0, 10, 9))))
    msisdn = np.array(sorted(numbers))
    rng.shuffle(msisdn)
    heavy = rng.random(n) < sc.heavy_share
    activity = rng.lognormal(0.0, 0.35, n) * np.where(heavy, sc.heavy_factor, 1.0)
    shift = rng.integers(-2, 4, n) if sc.diurnal else np.zeros(n, int)
    curve = np.stack([np.roll(DIURNAL if sc.diurnal else np.ones(24), s) for s in shift])
    curve = curve * rng.uniform(0.7, 1.3, (n, 24))
    cdf = np.cumsum(curve / curve.sum(1, keepdims=True), axis=1)
    has_app = np.stack([rng.random(n) < 0.92, rng.random(n) < sc.telegram_share, rng.random(n) < sc.signal_share], 1)
    n_cells = max(4, n // 3)
    # LTE cells as Airtel writes them (MCC-MNC-TAC-ECI; ECI = eNB id x 256 + sector, so above the
    # 16-bit GSM range): the engine keys them without the TAC, as Jio's hex ids (no TAC) are.
    cells = np.array([f"404-70-166-{(1000 + k // 3) * 256 + k % 3}" for k in range(n_cells)])
    imei = np.stack([_digits(rng, n, 16), _digits(rng, n, 16)], 1)
    imei[:, 0] = np.char.add("35", np.char.ljust(imei[:, 0], 14).astype("<U14"))
    imei[:, 1] = np.char.add("86", np.char.ljust(imei[:, 1], 14).astype("<U14"))
    imsi = np.stack([np.char.add("40470", _digits(rng, n, 10)), np.char.add("40410", _digits(rng, n, 10))], 1)
    change_day = np.where(rng.random(n) < sc.device_change_share, rng.integers(1, max(2, sc.days), n), sc.days + 1)
    sim_day = np.where(rng.random(n) < sc.sim_change_share, rng.integers(1, max(2, sc.days), n), sc.days + 1)
    taken: set[tuple[int, int]] = set()

    def draw_pairs(k: int) -> np.ndarray:
        out = []
        tries = 0
        while len(out) < k and tries < 100 * (k + 1):
            tries += 1
            a, b = sorted(rng.choice(n, 2, replace=False).tolist())
            if (a, b) not in taken:
                taken.add((a, b))
                out.append((a, b))
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    pairs = draw_pairs(int(round(sc.chat_pairs * n)))
    call_pairs = draw_pairs(int(round(sc.call_pairs * n)))
    groups = []
    for _ in range(int(round(sc.groups * n))):
        size = int(rng.integers(sc.group_size_min, sc.group_size_max + 1))
        groups.append(np.sort(rng.choice(n, min(size, n), replace=False)))
    # Linked subscribers share the apps they talk on.
    for a, b in np.concatenate([pairs, call_pairs]):
        has_app[a, APP_WHATSAPP] = has_app[b, APP_WHATSAPP] = True
    for g in groups:
        has_app[g, APP_WHATSAPP] = True
    return Population(
        msisdn=msisdn, android=rng.random(n) < 0.8, activity=activity, cdf=cdf, has_app=has_app,
        home_cell=cells[rng.integers(0, n_cells, n)], work_cell=cells[rng.integers(0, n_cells, n)],
        edge=rng.integers(0, len(META_EDGES), n), imei=imei, imsi=imsi, change_day=change_day, sim_day=sim_day,
        pairs=pairs, call_pairs=call_pairs, groups=groups,
    )


def truth_frame(pop: Population) -> pd.DataFrame:
    """One row per linked pair (a < b); a pair's first kind wins: chat, call, group."""
    rows: dict[tuple[str, str], str] = {}

    def add(i: int, j: int, kind: str) -> None:
        a, b = sorted((pop.msisdn[i], pop.msisdn[j]))
        rows.setdefault((a, b), kind)

    for i, j in pop.pairs:
        add(i, j, "chat")
    for i, j in pop.call_pairs:
        add(i, j, "call")
    for g in pop.groups:
        for x in range(len(g)):
            for y in range(x + 1, len(g)):
                add(g[x], g[y], "group")
    return pd.DataFrame([(a, b, k) for (a, b), k in sorted(rows.items())], columns=["a", "b", "kind"])


class DayGenerator:
    """Generates one day's sessions for everybody, vectorised."""

    def __init__(self, sc: Scenario, pop: Population) -> None:
        self.sc, self.pop = sc, pop
        self.n = len(pop.msisdn)
        #: Every meeting generated (a, b, day, t: its start in seconds into the day, cell), for the
        #: call records (cdrnet/synth/calls.py): people at a meeting also call and text others.
        self.meetings: list[pd.DataFrame] = []
        self._day = 0

    def _times(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        """Seconds into the day, drawn from each subscriber's own hourly rhythm."""
        u = rng.random(len(who))
        hour = (self.pop.cdf[who] < u[:, None]).sum(1)
        return np.minimum(hour, 23) * 3600 + rng.random(len(who)) * 3600

    def _delays(self, rng: np.random.Generator, k: int) -> np.ndarray:
        sc = self.sc
        kind = rng.choice(3, k, p=[sc.delay_seconds, sc.delay_minutes, sc.delay_hours])
        scale = np.array([12.0, 150.0, 4000.0])[kind]
        return rng.exponential(scale)

    def _app_sessions(self, rng: np.random.Generator, who: np.ndarray, t: np.ndarray, app: np.ndarray) -> dict:
        k = len(who)
        dur = np.clip(rng.lognormal(np.log(70), 0.8, k), 5, 3600)
        ip = np.empty(k, dtype=object)
        port = np.full(k, 443)
        wa = app == APP_WHATSAPP
        own = rng.random(k) < 0.8
        edge = np.where(own, self.pop.edge[who], rng.integers(0, len(META_EDGES), k))
        ip[wa] = np.array(META_EDGES, dtype=object)[edge[wa]]
        port[wa & (rng.random(k) < 0.2)] = 5222
        tg = app == APP_TELEGRAM
        ip[tg] = np.array(TELEGRAM_DCS, dtype=object)[rng.integers(0, len(TELEGRAM_DCS), tg.sum())]
        sg = app == APP_SIGNAL
        ip[sg] = np.array(SHARED_CLOUD, dtype=object)[rng.integers(0, len(SHARED_CLOUD), sg.sum())]
        up = rng.lognormal(np.log(3000), 1.0, k).astype(np.int64)
        down = rng.lognormal(np.log(6000), 1.0, k).astype(np.int64)
        return {"who": who, "t": t, "dur": dur, "ip": ip, "port": port, "up": up, "down": down}

    def _pick_app(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        has = self.pop.has_app[who].astype(float) * np.array([1.0, 0.5, 0.4])
        has[has.sum(1) == 0, APP_WHATSAPP] = 1.0
        p = has / has.sum(1, keepdims=True)
        return (p.cumsum(1) < rng.random(len(who))[:, None]).sum(1)

    def _conversations(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray, app: np.ndarray) -> list[dict]:
        """Bursts between a and b: a opens the app, b follows after a reaction delay."""
        if len(a) == 0:
            return []
        k = len(a)
        t0 = np.where(rng.random(k) < 0.5, self._times(rng, a), self._times(rng, b))
        nb = rng.geometric(1.0 / max(self.sc.bursts_mean, 1.0), k)
        conv = np.repeat(np.arange(k), nb)
        gaps = rng.exponential(900.0, len(conv))
        first = np.r_[True, conv[1:] != conv[:-1]]
        gaps[first] = 0.0
        offs = np.cumsum(gaps)
        base = np.repeat(offs[first], nb)
        tb = t0[conv] + (offs - base)
        flip = rng.random(len(conv)) < 0.5
        snd = np.where(flip, b[conv], a[conv])
        rcv = np.where(flip, a[conv], b[conv])
        delay = self._delays(rng, len(conv))
        out = [self._app_sessions(rng, snd, tb, app[conv]), self._app_sessions(rng, rcv, tb + delay, app[conv])]
        return out

    def generate(self, day: int) -> pd.DataFrame:
        sc, pop, n = self.sc, self.pop, self.n
        self._day = day
        # Days before the case start (another requested period) draw from their own streams.
        rng = np.random.default_rng([sc.seed, day, 17] if day >= 0 else [sc.seed, 17, -day, 1])
        parts: list[dict] = []
        everyone = np.arange(n)
        act = pop.activity
        # Own app use without a conversation (checking, status, channels).
        k = rng.poisson(sc.idle_app_rate * act)
        who = np.repeat(everyone, k)
        parts.append(self._app_sessions(rng, who, self._times(rng, who), self._pick_app(rng, who)))
        # Conversations with people outside the data set: only one side is visible.
        k = rng.poisson(sc.external_rate * act)
        who = np.repeat(everyone, k)
        for side in self._conversations(rng, who, who, self._pick_app(rng, who))[:1]:
            parts.append(side)
        ext = self._conversations(rng, who, who, self._pick_app(rng, who))
        if ext:
            parts.append(ext[1])
        # Planted chats (call pairs chat too, at half the rate).
        for pairs, rate in ((pop.pairs, sc.pair_rate), (pop.call_pairs, sc.pair_rate / 2)):
            if len(pairs):
                k = rng.poisson(rate, len(pairs))
                a, b = np.repeat(pairs[:, 0], k), np.repeat(pairs[:, 1], k)
                app = self._shared_app(rng, a, b)
                parts.extend(self._conversations(rng, a, b, app))
        # Group chats: one member posts, some others open the app after their own delay.
        for g in pop.groups:
            k = rng.poisson(sc.group_rate)
            for _ in range(k):
                sender = rng.choice(g)
                t = self._times(rng, np.array([sender]))
                readers = g[(g != sender) & (rng.random(len(g)) < 0.7)]
                parts.append(self._app_sessions(rng, np.array([sender]), t, np.array([APP_WHATSAPP])))
                if len(readers):
                    parts.append(self._app_sessions(rng, readers, t + self._delays(rng, len(readers)),
                                                    np.full(len(readers), APP_WHATSAPP)))
        frame = pd.concat([pd.DataFrame(p) for p in parts if len(p["who"])], ignore_index=True)
        frame["proto"] = "tcp"
        extra = [self._calls(rng), self._push(rng), self._background(rng), self._meetings(rng)]
        frame = pd.concat([frame, *[e for e in extra if e is not None and len(e)]], ignore_index=True)
        frame = frame[(frame["t"] >= 0) & (frame["t"] < 86400)]
        return self._finish(rng, frame, day)

    def _shared_app(self, rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        both = self.pop.has_app[a] & self.pop.has_app[b]
        app = np.full(len(a), APP_WHATSAPP)
        alt = both[:, APP_TELEGRAM] & (rng.random(len(a)) < 0.3)
        app[alt] = APP_TELEGRAM
        sig = both[:, APP_SIGNAL] & (rng.random(len(a)) < 0.3)
        app[sig] = APP_SIGNAL
        return app

    def _calls(self, rng: np.random.Generator) -> pd.DataFrame | None:
        cp = self.pop.call_pairs
        if not len(cp):
            return None
        k = rng.poisson(self.sc.call_rate, len(cp))
        a, b = np.repeat(cp[:, 0], k), np.repeat(cp[:, 1], k)
        if not len(a):
            return None
        t = self._times(rng, a)
        dur = np.clip(rng.lognormal(np.log(150), 0.9, len(a)), 10, 7200)
        relay = np.array([f"157.240.{rng.integers(1, 250)}.{rng.integers(1, 250)}" for _ in range(len(a))],
                         dtype=object)
        va = rng.lognormal(np.log(dur * 6000), 0.3)
        vb = rng.lognormal(np.log(dur * 6000), 0.3)
        side_a = pd.DataFrame({"who": a, "t": t, "dur": dur, "ip": relay, "port": 3478, "up": va.astype(np.int64),
                               "down": (vb * rng.uniform(0.9, 1.0, len(a))).astype(np.int64)})
        side_b = pd.DataFrame({"who": b, "t": t + rng.uniform(0, 3, len(a)), "dur": dur + rng.uniform(-2, 2, len(a)),
                               "ip": relay, "port": 3478, "up": vb.astype(np.int64),
                               "down": (va * rng.uniform(0.9, 1.0, len(a))).astype(np.int64)})
        out = pd.concat([side_a, side_b], ignore_index=True)
        out["proto"] = "udp"
        return out

    def _push(self, rng: np.random.Generator) -> pd.DataFrame | None:
        if not self.sc.push:
            return None
        n = self.n
        interval = rng.uniform(20, 40, n) * 60
        counts = (86400 // interval).astype(int)
        who = np.repeat(np.arange(n), counts)
        idx = np.concatenate([np.arange(c) for c in counts]) if counts.sum() else np.zeros(0, int)
        t = rng.uniform(0, 300, n)[who] + idx * interval[who] + rng.uniform(-30, 30, len(who))
        android = self.pop.android[who]
        ip = np.where(android, np.array(FCM, dtype=object)[rng.integers(0, len(FCM), len(who))],
                      np.array(APNS, dtype=object)[rng.integers(0, len(APNS), len(who))])
        out = pd.DataFrame({"who": who, "t": t, "dur": interval[who] - 5, "ip": ip,
                            "port": np.where(android, 5228, 5223),
                            "up": rng.integers(200, 2000, len(who)), "down": rng.integers(200, 4000, len(who))})
        out["proto"] = "tcp"
        return out

    def _background(self, rng: np.random.Generator) -> pd.DataFrame | None:
        if not self.sc.background:
            return None
        k = rng.poisson(self.sc.background_rate * np.sqrt(self.pop.activity))
        who = np.repeat(np.arange(self.n), k)
        kind = rng.choice(4, len(who), p=[0.8, 0.08, 0.1, 0.02])
        pools = [WEB, WEB, DNS, MAIL]
        ports = np.array([443, 80, 53, 993])
        ip = np.array([pools[c][rng.integers(0, len(pools[c]))] for c in range(4)] * 1, dtype=object)
        ip = np.empty(len(who), dtype=object)
        for c in range(4):
            m = kind == c
            ip[m] = np.array(pools[c], dtype=object)[rng.integers(0, len(pools[c]), m.sum())]
        out = pd.DataFrame({"who": who, "t": self._times(rng, who),
                            "dur": np.clip(rng.lognormal(np.log(20), 1.2, len(who)), 1, 3600),
                            "ip": ip, "port": ports[kind], "up": rng.lognormal(7, 1.5, len(who)).astype(np.int64),
                            "down": rng.lognormal(9, 1.5, len(who)).astype(np.int64)})
        out["proto"] = np.where(kind == 2, "udp", "tcp")
        return out

    def _meetings(self, rng: np.random.Generator) -> pd.DataFrame | None:
        """Linked pairs sometimes meet: background sessions of both from one cell for an hour."""
        pairs = self.pop.pairs
        if not len(pairs) or self.sc.meeting_rate <= 0:
            return None
        k = rng.poisson(self.sc.meeting_rate, len(pairs))
        a, b = np.repeat(pairs[:, 0], k), np.repeat(pairs[:, 1], k)
        if not len(a):
            return None
        t = self._times(rng, a)
        self.meetings.append(pd.DataFrame({"a": a, "b": b, "day": self._day, "t": t, "cell": self.pop.work_cell[a]}))
        rows = []
        for side in (a, b):
            m = 4
            who = np.repeat(side, m)
            rows.append(pd.DataFrame({"who": who, "t": np.repeat(t, m) + rng.uniform(0, 3600, len(who)),
                                      "dur": rng.uniform(5, 60, len(who)), "ip": WEB[0], "port": 443,
                                      "up": 500, "down": 5000, "proto": "tcp",
                                      "cell": np.repeat(self.pop.work_cell[a], m)}))
        return pd.concat(rows, ignore_index=True)

    def _finish(self, rng: np.random.Generator, f: pd.DataFrame, day: int) -> pd.DataFrame:
        pop, sc = self.pop, self.sc
        who = f["who"].to_numpy()
        day0 = pd.Timestamp(sc.start_date) + pd.Timedelta(days=day)
        start = day0 + pd.to_timedelta(np.round(f["t"].to_numpy()), unit="s")
        end = start + pd.to_timedelta(np.maximum(1, np.round(f["dur"].to_numpy())), unit="s")
        hour = f["t"].to_numpy() // 3600
        weekday = day0.day_of_week < 5
        at_work = weekday & (hour >= 9) & (hour < 18) if sc.moving_cells else np.zeros(len(f), bool)
        cell = np.where(at_work, pop.work_cell[who], pop.home_cell[who])
        if sc.moving_cells:
            roam = rng.random(len(f)) < 0.08
            cell = np.where(roam, pop.work_cell[rng.integers(0, self.n, len(f))], cell)
        if "cell" in f:
            met = f["cell"].notna().to_numpy()
            cell = np.where(met, f["cell"].fillna("").to_numpy(), cell)
        dev = (day >= pop.change_day[who]).astype(int)
        sim = (day >= pop.sim_day[who]).astype(int)
        ipv6_src = np.char.add("2409:4051:2e0b:", np.char.mod("%x::1", who + 4096))
        out = pd.DataFrame({
            "who": who, "msisdn": pop.msisdn[who], "imsi": pop.imsi[who, sim], "imei": pop.imei[who, dev],
            "start": start, "end": end, "src_ip": np.char.mod("10.%d.0.1", who % 250 + 1), "src_ip6": ipv6_src,
            "src_port": rng.integers(1024, 65535, len(f)), "public_ip": np.char.mod("100.64.%d.7", who % 250),
            "public_port": rng.integers(1024, 65535, len(f)), "dest_ip": f["ip"].to_numpy(),
            "dest_port": f["port"].to_numpy(), "proto": f["proto"].to_numpy(), "cell_id": cell,
            "uplink": f["up"].to_numpy(), "downlink": f["down"].to_numpy(),
        })
        return out.sort_values(["who", "start"], kind="stable").reset_index(drop=True)


def _corrupt(text: str, rng: np.random.Generator, share: float) -> str:
    """Damage a share of data lines the way broken exports do."""
    if share <= 0 or not text:
        return text
    lines = text.split("\n")
    for i in np.flatnonzero(rng.random(len(lines)) < share):
        if not lines[i]:
            continue
        kind = rng.integers(0, 3)
        if kind == 0:
            lines[i] = lines[i][: len(lines[i]) // 2]
        elif kind == 1:
            lines[i] = lines[i].replace("/", "-", 1).replace(":", "", 1)
        else:
            lines[i] = "9.18E+11," + lines[i].split(",", 1)[-1] if "," in lines[i] else lines[i]
    return "\n".join(lines)


def days_for_rows(sc: Scenario, rows: int) -> int:
    """How many days give about ``rows`` sessions (measured on a generated first day)."""
    pop = build_population(sc, np.random.default_rng(sc.seed))
    per_day = max(1, len(DayGenerator(sc, pop).generate(0)))
    return max(1, int(np.ceil(rows / per_day)))


@dataclass
class DumpPlan:
    """The dumps police asked for: one row per dump (subscriber, layout, requested period).

    Sorted by subscriber then period start; periods of one subscriber never overlap.
    ``start``/``end`` are naive local times; ``end`` is the last second included.
    """

    who: np.ndarray
    layout: np.ndarray
    start: pd.DatetimeIndex
    end: pd.DatetimeIndex
    kind: np.ndarray  # whole | main | second | other | short

    def __len__(self) -> int:
        return len(self.who)

    def day_range(self, origin: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        """First and last day index (relative to ``origin``) each dump touches."""
        first = ((self.start.floor("D") - origin) // pd.Timedelta(days=1)).to_numpy(np.int64)
        last = ((self.end.floor("D") - origin) // pd.Timedelta(days=1)).to_numpy(np.int64)
        return first, last


def plan_dumps(sc: Scenario, n: int) -> DumpPlan:
    """Which dumps exist, in which layout, for which period (drawn from the seed's own stream).

    Not mixed: one dump per subscriber in ``sc.layout`` over the whole span. Mixed (the real
    shape): each subscriber has an operator drawn from ``layout_mix`` (Airtel dumps re-saved
    through Excel with ``excel_share``); a dump covers the whole span or a random stretch of
    it; some subscribers have a second dump for another period, some only a dump from another
    month/year, and ``short_dumps`` subscribers a dump of a few hours (Vi, like a real
    1 h 40 min one). The draws use a stream of their own, so the people and their events are
    the same with mixed on or off.
    """
    origin = pd.Timestamp(sc.start_date)
    day = pd.Timedelta(days=1)
    last_second = pd.Timedelta(seconds=86399)
    if not sc.mixed:
        who = np.arange(n)
        return DumpPlan(who, np.full(n, sc.layout, dtype=object), pd.DatetimeIndex([origin] * n),
                        pd.DatetimeIndex([origin + (sc.days - 1) * day + last_second] * n),
                        np.full(n, "whole", dtype=object))
    rng = np.random.default_rng([sc.seed, 31])
    weights = layout_weights(sc)
    names = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    operator = names[rng.choice(len(names), n, p=p / p.sum())]
    role = np.where(rng.random(n) < sc.other_period_share, "other", "main").astype(object)
    short = rng.choice(n, min(n, max(0, sc.short_dumps)), replace=False)
    role[short] = "short"
    operator[short] = "vi"
    whole = rng.random(n) < sc.full_period_share
    lo = min(max(1, sc.period_min_days), sc.days)
    length = rng.integers(lo, sc.days + 1, n)
    offset = rng.integers(0, sc.days - length + 1)
    second = (rng.random(n) < sc.second_dump_share) & (role == "main")
    length2 = rng.integers(lo, sc.days + 1, n)
    offset2 = rng.integers(0, sc.days - length2 + 1)
    short_day = rng.integers(0, sc.days, n)
    short_from = rng.integers(9 * 6, 17 * 6, n) * 600  # on a ten-minute mark, in the day
    short_len = rng.integers(6, 25, n) * 600  # one to four hours
    excel = rng.random(2 * n) < sc.excel_share
    rows: list[tuple[int, str, pd.Timestamp, pd.Timestamp, str]] = []
    other0 = origin + sc.other_period_offset_days * day
    for i in range(n):  # a plan per subscriber (n rows, not a per-session loop)
        if role[i] == "short":
            t0 = origin + int(short_day[i]) * day + pd.Timedelta(seconds=int(short_from[i]))
            rows.append((i, "vi", t0, t0 + pd.Timedelta(seconds=int(short_len[i])), "short"))
            continue
        if role[i] == "other":
            t0 = other0 + int(offset[i]) * day
            rows.append((i, str(operator[i]), t0, t0 + (int(length[i]) - 1) * day + last_second, "other"))
            continue
        first, size = (0, sc.days) if whole[i] else (int(offset[i]), int(length[i]))
        t0 = origin + first * day
        rows.append((i, str(operator[i]), t0, t0 + (size - 1) * day + last_second, "main"))
        if second[i]:
            t1 = other0 + int(offset2[i]) * day
            rows.append((i, str(operator[i]), t1, t1 + (int(length2[i]) - 1) * day + last_second, "second"))
    rows.sort(key=lambda r: (r[0], r[2]))
    layout = np.array([r[1] for r in rows], dtype=object)
    for k, r in enumerate(rows):
        if r[1] == "airtel" and excel[k]:
            layout[k] = "airtel_excel"
    return DumpPlan(np.array([r[0] for r in rows], dtype=np.int64), layout, pd.DatetimeIndex([r[2] for r in rows]),
                    pd.DatetimeIndex([r[3] for r in rows]), np.array([r[4] for r in rows], dtype=object))


@dataclass
class DumpFiles:
    """The files each dump is written to: Jio splits a long export into part files."""

    dump: np.ndarray  # file -> dump index
    first_day: np.ndarray  # file -> first day index it holds
    paths: list[Path]
    base: np.ndarray  # dump -> its first file index
    part_days: np.ndarray  # dump -> days per part (0: one file)


def _file_names(sc: Scenario, plan: DumpPlan, msisdn: np.ndarray, folder: Path) -> DumpFiles:
    origin = pd.Timestamp(sc.start_date)
    first, last = plan.day_range(origin)
    part_days = np.where((plan.layout == "jio") & sc.mixed & (sc.jio_part_days > 0), sc.jio_part_days, 0)
    parts = np.where(part_days > 0, (last - first) // np.maximum(part_days, 1) + 1, 1)
    base = np.concatenate([[0], np.cumsum(parts)[:-1]]).astype(np.int64)
    dump = np.repeat(np.arange(len(plan)), parts)
    k = np.arange(len(dump)) - base[dump]
    paths = []
    for f, d in enumerate(dump):  # one name per file
        number, layout = str(msisdn[plan.who[d]]), str(plan.layout[d])
        if not sc.mixed:
            paths.append(folder / f"{layout}_{number}.csv")
            continue
        span = f"{plan.start[d]:%Y%m%d}-{plan.end[d]:%Y%m%d}"
        part = f"_part{k[f] + 1}of{parts[d]}" if parts[d] > 1 else ""
        paths.append(folder / f"{layout}_{number}_{span}{part}.csv")
    return DumpFiles(dump, first[dump] + k * part_days[dump], paths, base, part_days)


def _assign(frame: pd.DataFrame, plan: DumpPlan, plan_keys: np.ndarray, end_s: np.ndarray) -> np.ndarray:
    """Dump index of each session (-1: outside every requested period of its subscriber)."""
    t = frame["start"].to_numpy("datetime64[s]").astype(np.int64)
    who = frame["who"].to_numpy(np.int64)
    idx = np.searchsorted(plan_keys, (who << 34) + (t - _EPOCH_BASE), side="right") - 1
    safe = np.maximum(idx, 0)
    ok = (idx >= 0) & (plan.who[safe] == who) & (t <= end_s[safe])
    return np.where(ok, idx, -1)


_EPOCH_BASE = 946684800  # 2000-01-01: keeps (who << 34) + seconds positive and distinct


def common_stated_days(plan: DumpPlan, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Calendar days both subscribers' requested periods cover, per pair (what a pair can show)."""
    days: dict[int, set[int]] = {}
    origin = pd.Timestamp("2000-01-01")
    first, last = plan.day_range(origin)
    for w, f, z in zip(plan.who, first, last, strict=True):
        days.setdefault(int(w), set()).update(range(int(f), int(z) + 1))
    return np.array([len(days.get(int(x), set()) & days.get(int(y), set())) for x, y in zip(a, b, strict=True)],
                    dtype=np.int64)


def _resend(sc: Scenario, paths: list[Path]) -> list[dict]:
    """``sc.resent_dumps`` of the IPDR files sent again (``<name>_resent.csv``, named to sort after
    the first delivery), drawn from a stream of their own so the other files are the same bytes."""
    if not sc.resent_dumps:
        return []
    from cdrnet.synth.resend import write_resend

    out: list[dict] = []
    for i in np.random.default_rng([sc.seed, 61]).permutation(len(paths)).tolist():
        if len(out) == sc.resent_dumps:
            break
        src = paths[i]
        dest = src.with_name(f"{src.stem}_resent{src.suffix}")
        changed = write_resend(src, dest)
        if not changed:  # too few rows to re-send with another cell
            dest.unlink(missing_ok=True)
            continue
        out.append({"file": f"dumps/{dest.name}", "of": f"dumps/{src.name}", "cells_changed": changed})
    return out


def simulate(sc: Scenario, out_dir: str | Path, progress: object = None) -> dict:
    """Write the case to ``out_dir``; returns a summary (files, dumps, sessions, pairs).

    Each dump holds only the sessions inside its requested period, and its preamble
    states that period in the operator's form. Days are generated once for everybody
    and cut into dumps with one searchsorted, so size is bounded by one day.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(sc.seed)
    pop = build_population(sc, rng)
    n = len(pop.msisdn)
    gen = DayGenerator(sc, pop)
    origin = pd.Timestamp(sc.start_date)
    plan = plan_dumps(sc, n)
    dumps = out / "dumps"
    dumps.mkdir(exist_ok=True)
    files = _file_names(sc, plan, pop.msisdn, dumps)
    for f, p in enumerate(files.paths):
        d = files.dump[f]
        text = preamble(str(plan.layout[d]), str(pop.msisdn[plan.who[d]]), plan.start[d], plan.end[d])
        p.write_text(text + ",".join(header(str(plan.layout[d]))) + "\n", encoding="utf-8")
    start_s = plan.start.to_numpy("datetime64[s]").astype(np.int64)
    end_s = plan.end.to_numpy("datetime64[s]").astype(np.int64)
    plan_keys = (plan.who << 34) + (start_s - _EPOCH_BASE)
    first, last = plan.day_range(origin)
    days = np.unique(np.concatenate([np.arange(f, z + 1) for f, z in zip(first, last, strict=True)]))
    file_layout = plan.layout[files.dump]
    any_airtel = bool(np.isin(plan.layout, ["airtel", "airtel_excel"]).any())
    serial = np.ones(len(files.paths), dtype=np.int64)
    rows_per_dump = np.zeros(len(plan), dtype=np.int64)
    total = 0
    corrupt_rng = np.random.default_rng([sc.seed, 99])
    for step, day in enumerate(days.tolist()):
        frame = gen.generate(day)
        d = _assign(frame, plan, plan_keys, end_s)
        if any_airtel:
            rec_rng = np.random.default_rng([sc.seed, day + 100000, 23])
            close, number = partial_records(frame["who"].to_numpy(), frame["start"], rec_rng,
                                            sc.record_minutes_min, sc.record_minutes_max)
            frame["record_end"] = close.to_numpy()
            frame["charging_id"] = ((day + 5000) * np.int64(n) + frame["who"].to_numpy(np.int64)) * 128 + number
        keep = d >= 0
        frame, d = frame[keep].reset_index(drop=True), d[keep]
        if not len(frame):
            continue
        part = np.where(files.part_days[d] > 0, (day - first[d]) // np.maximum(files.part_days[d], 1), 0)
        f = files.base[d] + part
        if any_airtel:
            # A record never outlives the requested period; its totals count only rows inside it.
            frame["record_end"] = np.minimum(frame["record_end"].to_numpy(), plan.end.to_numpy()[d])
            frame = add_record_totals(frame)
        order = np.argsort(f, kind="stable")
        frame, f = frame.iloc[order].reset_index(drop=True), f[order]
        counts = np.bincount(f, minlength=len(files.paths))
        rows_per_dump += np.bincount(files.dump[f], minlength=len(plan))
        frame["serial"] = serial[f] + frame.groupby(f).cumcount().to_numpy()
        serial += counts
        total += len(frame)
        for layout in pd.unique(file_layout[f]):
            mask = file_layout[f] == layout
            sub_f = f[mask]
            lines = body(frame[mask], str(layout), pdp_minutes=sc.pdp_minutes).split("\n")
            ids = np.flatnonzero(np.bincount(sub_f, minlength=len(files.paths)))
            bounds = np.concatenate([[0], np.cumsum(counts[ids])])
            for k, i in enumerate(ids):
                text = "\n".join(lines[bounds[k] : bounds[k + 1]]) + "\n"
                with open(files.paths[int(i)], "a", encoding="utf-8", newline="") as fh:
                    fh.write(_corrupt(text, corrupt_rng, sc.malformed_share))
        if callable(progress):
            progress(step + 1, len(days), total)
    for f, p in enumerate(files.paths):
        d = files.dump[f]
        with open(p, "a", encoding="utf-8", newline="") as fh:
            fh.write(footer(str(plan.layout[d]), plan.end[d]))
    resent = _resend(sc, files.paths)
    truth = truth_frame(pop)
    truth.to_csv(out / "truth.csv", index=False, quoting=csv.QUOTE_MINIMAL)
    index = pd.Series(np.arange(n), index=pop.msisdn)
    together = common_stated_days(plan, index[truth["a"]].to_numpy(), index[truth["b"]].to_numpy())
    dump_list = []
    for k in range(len(plan)):
        names = [f"dumps/{files.paths[i].name}" for i in np.flatnonzero(files.dump == k)]
        dump_list.append({"msisdn": str(pop.msisdn[plan.who[k]]), "layout": str(plan.layout[k]),
                          "kind": str(plan.kind[k]),
                          "period_start": f"{plan.start[k]:%Y-%m-%d %H:%M:%S}",
                          "period_end": f"{plan.end[k]:%Y-%m-%d %H:%M:%S}",
                          "files": names, "sessions": int(rows_per_dump[k])})
    summary = {"cdrnet_version": __version__, "scenario": sc.to_dict(), "sessions": int(total),
               "files": sorted(f"dumps/{p.name}" for p in [*files.paths, *(Path(r["file"]) for r in resent)]),
               "true_pairs": len(truth),
               "truth_kinds": truth["kind"].value_counts().sort_index().to_dict(),
               "dumps": dump_list, "layouts": pd.Series(plan.layout).value_counts().sort_index().to_dict(),
               "true_pairs_common_days_2plus": int((together >= 2).sum()),
               "true_pairs_not_observed_together": int((together == 0).sum())}
    if resent:
        summary["resent"] = resent
    if sc.cdrs:
        from cdrnet.synth.calls import write_call_records

        met = pd.concat(gen.meetings, ignore_index=True) if gen.meetings else None
        summary["call_records"] = write_call_records(sc, pop, truth, {int(w): str(la) for w, la in
                                                                      zip(plan.who, plan.layout, strict=True)}, dumps,
                                                     met)
    (out / "scenario.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary
