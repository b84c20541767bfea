"""Application identification from destination prefix, port and protocol.

The table is data (CSV) with a source and a validity period per row, because
published ranges go stale; users extend or override it with their own file.
Precedence: prefix + port, then prefix alone, then port alone; within a tier,
the row order of the table.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.errors import SignatureError
from cdrnet.loader.identifiers import arrow_text, take_text
from cdrnet.loader.ipaddr import network_bounds

COLUMNS = ["app", "vendor", "category", "proto", "ports", "prefixes", "valid_from", "valid_to", "confidence", "source"]
BUILTIN = ("modern", "paper")


@dataclass(frozen=True)
class Rule:
    """One signature row, pre-parsed for vectorised matching."""

    app: str
    vendor: str
    category: str
    proto: str
    ports: tuple[tuple[int, int], ...]
    prefixes: tuple[tuple[int, int, int, int, int], ...]
    prefix_text: str
    port_text: str
    valid_from: pd.Timestamp | None
    valid_to: pd.Timestamp | None
    confidence: str
    source: str
    origin: str

    @property
    def tier(self) -> int:
        if self.prefixes and self.ports:
            return 0
        return 1 if self.prefixes else 2


def _ports(text: str, where: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError as exc:
            raise SignatureError(f"{where}: bad port '{part}'") from exc
        if not (0 <= a <= b <= 65535):
            raise SignatureError(f"{where}: port range '{part}' outside 0-65535")
        out.append((a, b))
    return tuple(out)


def _date(text: str, where: str) -> pd.Timestamp | None:
    if not text.strip():
        return None
    try:
        return pd.Timestamp(text.strip(), tz="UTC")
    except ValueError as exc:
        raise SignatureError(f"{where}: bad date '{text}' (use YYYY-MM-DD)") from exc


def parse_table(text: str, origin: str) -> list[Rule]:
    """Parse a signature CSV; every row must name an app and a port or prefix."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("app", "ports", "prefixes") if c not in (reader.fieldnames or [])]
    if missing:
        raise SignatureError(f"{origin}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    rules = []
    for n, row in enumerate(reader, start=2):
        where = f"{origin} line {n}"
        row = {k: (v or "").strip() for k, v in row.items() if k}
        if not row.get("app"):
            raise SignatureError(f"{where}: empty app")
        try:
            prefixes = tuple(network_bounds(p.strip()) for p in row.get("prefixes", "").split(";") if p.strip())
        except ValueError as exc:
            raise SignatureError(f"{where}: {exc}") from exc
        ports = _ports(row.get("ports", ""), where)
        if not prefixes and not ports:
            raise SignatureError(f"{where}: a rule needs ports or prefixes")
        rules.append(
            Rule(
                app=row["app"], vendor=row.get("vendor", ""), category=row.get("category", ""),
                proto=row.get("proto", "").lower(), ports=ports, prefixes=prefixes,
                prefix_text=row.get("prefixes", ""), port_text=row.get("ports", ""),
                valid_from=_date(row.get("valid_from", ""), where), valid_to=_date(row.get("valid_to", ""), where),
                confidence=row.get("confidence", ""), source=row.get("source", ""), origin=origin,
            )
        )
    return rules


def load_signatures(spec: str = "modern", extra: list[str | Path] | None = None) -> list[Rule]:
    """Load a built-in table (``modern`` or ``paper``) or a file, then user files.

    Rules from user files come first so they override the built-in rows of the
    same tier.
    """
    rules: list[Rule] = []
    for path in extra or []:
        rules.extend(_read_file(Path(path)))
    if spec in BUILTIN:
        text = (resources.files("cdrnet.loader") / "signatures" / f"{spec}.csv").read_text(encoding="utf-8")
        rules.extend(parse_table(text, f"built-in:{spec}"))
    else:
        rules.extend(_read_file(Path(spec)))
    return rules


def _read_file(path: Path) -> list[Rule]:
    try:
        return parse_table(path.read_text(encoding="utf-8-sig"), str(path))
    except OSError as exc:
        raise SignatureError(f"cannot read signature file {path}: {exc.strerror}") from exc


def table_frame(rules: list[Rule]) -> pd.DataFrame:
    """The table as shown by ``cdrnet signatures``, in precedence order."""
    ordered = sorted(enumerate(rules), key=lambda ir: (ir[1].tier, ir[0]))
    return pd.DataFrame(
        [
            {
                "tier": ("prefix+port", "prefix", "port")[r.tier], "app": r.app, "vendor": r.vendor,
                "category": r.category, "proto": r.proto or "any", "ports": r.port_text or "any",
                "prefixes": r.prefix_text or "any",
                "valid_from": r.valid_from.date().isoformat() if r.valid_from is not None else "",
                "valid_to": r.valid_to.date().isoformat() if r.valid_to is not None else "",
                "confidence": r.confidence, "source": r.source, "origin": r.origin,
            }
            for _, r in ordered
        ]
    )


def classify(
    ver: np.ndarray, hi: np.ndarray, lo: np.ndarray, port: pd.Series, proto: pd.Series,
    when: pd.Series, rules: list[Rule],
) -> pd.DataFrame:
    """Return app, app_vendor, app_category, app_confidence per row (empty when unknown)."""
    return pd.DataFrame(classify_columns(ver, hi, lo, port, proto, when, rules))


def classify_columns(
    ver: np.ndarray, hi: np.ndarray, lo: np.ndarray, port: pd.Series, proto: pd.Series,
    when: pd.Series, rules: list[Rule],
) -> dict[str, pd.Series]:
    """:func:`classify`'s columns, for a caller that builds its own frame.

    Rules are evaluated over the distinct (address, port, protocol, day) tuples
    rather than over rows, so the cost follows the variety of destinations.
    """
    labels = classify_arrays(ver, hi, lo, port.fillna(-1).to_numpy(dtype=np.int64), arrow_text(proto), _days(when),
                             rules)
    return {name: pd.Series(pd.arrays.ArrowStringArray(arr), index=port.index) for name, arr in labels.items()}


def classify_arrays(ver: np.ndarray, hi: np.ndarray, lo: np.ndarray, port_arr: np.ndarray, proto: pa.Array,
                    day_arr: np.ndarray, rules: list[Rule],
                    proto_coded: tuple[np.ndarray, list[str]] | None = None) -> dict[str, pa.Array]:
    """:func:`classify_columns` on arrays: ports as int64 (-1 where none), protocols as Arrow text,
    days since the epoch (UTC; 0 where unknown); the labels come back as Arrow arrays.

    ``proto_coded``: the protocols already as (int64 code per row, lower-case name per code), as
    the normaliser has them from its own protocol step; the codes need not be in order of first
    appearance (rows are grouped by the tuple of codes, whatever their numbering). Without it the
    text is lowered and dictionary-encoded here (three passes over every row)."""
    n = len(port_arr)
    if proto_coded is not None:
        proto_codes, proto_uni = proto_coded
    else:
        # Protocols by Arrow's dictionary encoding: codes in order of first appearance, as factorize.
        encoded = pc.dictionary_encode(pc.utf8_lower(pc.fill_null(proto, "")))
        proto_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        proto_uni = encoded.dictionary.to_pylist()
    codes, first = _factorize_rows([ver, hi, lo, port_arr, proto_codes, day_arr])
    u_ver, u_hi, u_lo = ver[first], hi[first].astype(np.uint64), lo[first].astype(np.uint64)
    u_port, u_day = port_arr[first], day_arr[first]
    u_proto = (np.asarray(proto_uni, dtype=object)[proto_codes[first]] if len(proto_uni)
               else np.array([], dtype=object))
    assigned = np.full(len(first), -1, dtype=np.int64)
    order = sorted(range(len(rules)), key=lambda i: (rules[i].tier, i))
    has_ip = u_ver > 0
    for i in order:
        r = rules[i]
        m = assigned < 0
        if r.ports:
            pm = np.zeros(len(first), bool)
            for a, b in r.ports:
                pm |= (u_port >= a) & (u_port <= b)
            m &= pm
        if r.prefixes:
            xm = np.zeros(len(first), bool)
            for v, fh, fl, lh, ll in r.prefixes:
                ge = (u_hi > np.uint64(fh)) | ((u_hi == np.uint64(fh)) & (u_lo >= np.uint64(fl)))
                le = (u_hi < np.uint64(lh)) | ((u_hi == np.uint64(lh)) & (u_lo <= np.uint64(ll)))
                xm |= (u_ver == v) & ge & le
            m &= xm & has_ip
        if r.proto:
            m &= (u_proto == r.proto) | (u_proto == "")
        if r.valid_from is not None:
            m &= u_day >= _day_number(r.valid_from)
        if r.valid_to is not None:
            m &= u_day <= _day_number(r.valid_to)
        assigned[m] = i
    idx = np.where(assigned < 0, len(rules), assigned)[codes] if n else np.zeros(0, np.int64)
    fields = (list(zip(*[(r.app, r.vendor, r.category, r.confidence) for r in rules], strict=True)) if rules
              else [(), (), (), ()])
    out = {}
    at = np.ascontiguousarray(idx, dtype=np.int64)
    for name, values in zip(("app", "app_vendor", "app_category", "app_confidence"), fields, strict=True):
        labels = pa.array([*values, ""], type=pa.large_string())
        out[name] = take_text(labels, at)
    return out


def _days(when: pd.Series) -> np.ndarray:
    """Days since the epoch (UTC); unknown times become day 0."""
    arr = when.dt.tz_convert("UTC").to_numpy(dtype="datetime64[D]")  # a UTC day, without a copy per step
    out = arr.astype(np.int64)
    out[np.isnat(arr)] = 0
    return out


def _day_number(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


def _factorize_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Factorize whole rows of equal-length integer columns: codes per row (in order of first
    appearance), and the first row of each distinct row (in code order).

    Each column becomes a small code (its offset from its minimum when its range is narrow,
    as ports, protocols, days and IPv4 halves are; else its factorize code), and the codes are
    combined into one integer by mixed radix: one exact code per distinct row, found by a
    single factorize at the end (re-factorized on the way should the radix outgrow 62 bits).
    """
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    combined = np.zeros(n, dtype=np.int64)
    span = 1
    for col in columns:
        code, size = _small_codes(np.asarray(col))
        if span * size >= 1 << 62:
            combined, uniques = pd.factorize(combined)
            span = len(uniques)
        combined = combined * size + code
        span *= size
    codes, _ = pd.factorize(combined)
    codes = codes.astype(np.int64)
    seen = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, codes[1:] > seen[:-1]])
    return codes, first


def _small_codes(col: np.ndarray) -> tuple[np.ndarray, int]:
    """A column as codes from 0 and their count (a bijection of its values, not a ranking)."""
    if col.dtype.kind in "iu":
        wide = col.astype(np.int64 if col.dtype.kind == "i" else np.uint64)  # no overflow below
        lo, hi = wide.min(), wide.max()
        if int(hi) - int(lo) < 1 << 20:
            return (wide - lo).astype(np.int64), int(hi) - int(lo) + 1
    codes, uniques = pd.factorize(col)
    return codes.astype(np.int64), max(len(uniques), 1)


#: Category suffix of a label that names candidates, not one application ("XMPP (WhatsApp
#: possible)" is ``messaging_possible``): analyses leave such sessions out unless asked.
POSSIBLE_SUFFIX = "_possible"


def possible_mask(frame: pd.DataFrame) -> pd.Series:
    """Sessions whose label is only a low-confidence possibility."""
    return frame["app_category"].fillna("").str.endswith(POSSIBLE_SUFFIX)


def promote_possible(frame: pd.DataFrame) -> pd.DataFrame:
    """The analyst opted in (``--possible-apps``): treat "possible" labels as their category
    (``messaging_possible`` becomes ``messaging``), so messaging co-usage and app trends use them."""
    m = possible_mask(frame)
    if not m.any():
        return frame
    cat = frame["app_category"].astype("string")
    return frame.assign(app_category=cat.where(~m, cat.str.removesuffix(POSSIBLE_SUFFIX)))


def possible_note(frame: pd.DataFrame, opted_in: bool) -> str:
    """One line saying how many sessions carry a low-confidence label and what was done with them."""
    m = possible_mask(frame)
    n = int(m.sum())
    if not n:
        return ""
    labels = ", ".join(f"'{a}'" for a in sorted(frame.loc[m, "app"].dropna().unique()))
    if opted_in:
        return f"{n} session(s) labelled {labels} (low confidence) are included (--possible-apps)"
    return (f"{n} session(s) labelled {labels} (low confidence: port alone, outside the app's known ranges) "
            f"are left out; --possible-apps includes them")


def unknown_destinations(frame: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """The case's most frequent unidentified destinations, as (port, prefix) pairs.

    An analyst extends the table from these: a /16 (IPv4) or /32 (IPv6) prefix is
    coarse enough to group one provider's servers and fine enough to look up its owner.
    Low-confidence "possible" labels count as unidentified here: they are what a new
    prefix rule would settle. Work is per distinct address.
    """
    dest = frame["dest_ip"].fillna("")
    m = ((dest != "") | frame["dest_port"].notna()) & ((frame["app"].fillna("") == "") | possible_mask(frame))
    f = frame[m]
    codes, uniq = pd.factorize(f["dest_ip"].fillna(""), use_na_sentinel=False)
    prefixes = np.array([_prefix16(str(u)) for u in uniq], dtype=object)
    table = pd.DataFrame({"port": pd.to_numeric(f["dest_port"], errors="coerce").astype("Int64").to_numpy(),
                          "prefix": prefixes[codes] if len(codes) else np.array([], dtype=object),
                          "msisdn": f["msisdn"].to_numpy()})
    if table.empty:
        return pd.DataFrame(columns=["port", "prefix", "sessions", "subscribers", "share"])
    g = table.groupby(["port", "prefix"], dropna=False)
    out = pd.DataFrame({"sessions": g.size(), "subscribers": g["msisdn"].nunique()}).reset_index()
    out["share"] = (out["sessions"] / len(table)).round(4)
    return (out.sort_values(["sessions", "port", "prefix"], ascending=[False, True, True])
            .head(top).reset_index(drop=True))


def _prefix16(ip: str) -> str:
    """``13.232.0.0/16`` for an IPv4 address, ``2406:da1a::/32`` for IPv6, "" for none."""
    if not ip:
        return ""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    bits = 16 if addr.version == 4 else 32
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))
