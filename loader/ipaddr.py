"""IP address validation and integer forms for prefix matching (IPv4 and IPv6).

Work is done once per distinct address, never per row: a month of sessions
touches far fewer distinct destinations than rows.
"""

from __future__ import annotations

import functools
import ipaddress

import numpy as np
import pandas as pd
import pyarrow as pa

from cdrnet.loader.identifiers import distinct_text, take_text


@functools.lru_cache(maxsize=1 << 16)
def _parse_cached(value: str) -> tuple[str, int, int, int] | None:
    """:func:`_parse` remembered across blocks: a case's sessions reach the same servers dump after dump."""
    return _parse(value)


def _parse(value: str) -> tuple[str, int, int, int] | None:
    """Return (canonical text, version, high 64 bits, low 64 bits)."""
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    n = int(ip)
    return str(ip), ip.version, n >> 64, n & 0xFFFFFFFFFFFFFFFF


def normalise_ips(s: pd.Series) -> tuple[pd.Series, pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """Canonicalise addresses.

    Returns (canonical text, invalid mask for non-empty unparsable values,
    version array (0 for none), high and low 64-bit halves as uint64).
    """
    canon, bad, ver, hi, lo = ip_arrays(s)
    return (pd.Series(pd.arrays.ArrowStringArray(canon), index=s.index), pd.Series(bad, index=s.index),
            ver, hi, lo)


def ip_arrays(s: pd.Series | pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`normalise_ips` with the canonical text as an Arrow array and the mask as numpy."""
    codes, uniques = distinct_text(s)
    parsed = [_parse_cached(u) if u else None for u in uniques]
    text = pa.array([p[0] if p else "" for p in parsed] + [""], type=pa.large_string())
    ver = np.array([p[1] if p else 0 for p in parsed] + [0], dtype=np.int8)
    hi = np.array([p[2] if p else 0 for p in parsed] + [0], dtype=np.uint64)
    lo = np.array([p[3] if p else 0 for p in parsed] + [0], dtype=np.uint64)
    bad_u = np.array([(p is None and bool(u)) for p, u in zip(parsed, uniques, strict=True)] + [False])
    idx = np.where(codes < 0, len(parsed), codes)
    return take_text(text, idx), bad_u[idx], ver[idx], hi[idx], lo[idx]


def network_bounds(prefix: str) -> tuple[int, int, int, int, int]:
    """(version, high, low of the first address, high, low of the last address)."""
    net = ipaddress.ip_network(prefix, strict=False)
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        # IPv4 lives in the low half with high == 0, as produced by normalise_ips.
        return 4, 0, first, 0, last
    return 6, first >> 64, first & 0xFFFFFFFFFFFFFFFF, last >> 64, last & 0xFFFFFFFFFFFFFFFF
