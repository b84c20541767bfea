"""Reverse DNS of destination IPs: concurrent, bounded by a timeout, cached in the workspace.

Off by default (as the paper planned): air-gapped machines have no resolver,
and lookups leak the case's destinations to whoever runs the resolver. A PTR
name is data from the network, never markup: it is escaped wherever shown.

The PTR query is built and read with the standard library (one UDP datagram
each way), so ``--rdns`` works on a plain ``pip install`` with no DNS package.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cdrnet.errors import UsageError

QTYPE_PTR = 12
QCLASS_IN = 1
RCODE_NXDOMAIN = 3


def system_resolver() -> str:
    """First nameserver in /etc/resolv.conf."""
    try:
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1]
    except OSError:
        pass
    raise UsageError("no DNS resolver configured", "pass --resolver HOST[:PORT]")


def _split(resolver: str) -> tuple[str, int]:
    if resolver.count(":") == 1:
        host, port = resolver.split(":")
        return host, int(port)
    return resolver, 53


def ptr_query(name: str, query_id: int) -> bytes:
    """A recursive DNS question for the PTR record of ``name`` (RFC 1035 wire format)."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # RD set, one question
    labels = b"".join(bytes([len(part)]) + part for part in (x.encode("ascii") for x in name.split(".")) if part)
    return header + labels + b"\x00" + struct.pack("!HH", QTYPE_PTR, QCLASS_IN)


def _read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """Decode a (possibly compressed) domain name at ``pos``; returns the name and the offset after it."""
    labels: list[str] = []
    end = None
    for _ in range(128):  # bounds a pointer loop in a hostile reply
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        labels.append(msg[pos + 1:pos + 1 + length].decode("ascii", errors="replace"))
        pos += 1 + length
    raise ValueError("DNS name too long or looping")


def parse_ptr_reply(msg: bytes, query_id: int) -> tuple[str, str]:
    """(status, name) from a reply datagram: ok, nxdomain, noname; ValueError when malformed."""
    if len(msg) < 12:
        raise ValueError("short DNS reply")
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if rid != query_id:
        raise ValueError("reply to another query")
    if flags & 0x000F == RCODE_NXDOMAIN:
        return "nxdomain", ""
    pos = 12
    for _ in range(qd):
        _, pos = _read_name(msg, pos)
        pos += 4
    for _ in range(an):
        _, pos = _read_name(msg, pos)
        rtype, _, _, rdlength = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        if rtype == QTYPE_PTR:
            return "ok", _read_name(msg, pos)[0].rstrip(".")
        pos += rdlength
    return "noname", ""


def lookup(ip: str, resolver: str, timeout: float) -> tuple[str, str]:
    """(status, name): status is ok, nxdomain, noname, timeout or error."""
    try:
        rev = ipaddress.ip_address(ip).reverse_pointer
    except ValueError:
        return "error", ""
    host, port = _split(resolver)
    query_id = secrets.randbelow(1 << 16)
    deadline = time.monotonic() + timeout
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.sendto(ptr_query(rev, query_id), (host, port))
            while True:  # skip stray datagrams (another query's late reply) until ours or the deadline
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                data, _ = sock.recvfrom(4096)
                try:
                    return parse_ptr_reply(data, query_id)
                except ValueError as exc:
                    if str(exc) != "reply to another query":
                        return "error", ""
                except (IndexError, struct.error):  # a truncated reply is a failed lookup, not a crash
                    return "error", ""
    except TimeoutError:
        return "timeout", ""
    except OSError:
        return "error", ""


class RdnsCache:
    """Answers already known (ok/nxdomain/noname are kept; timeouts are retried next time)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, dict[str, str]] = {}
        if path and path.exists():
            self.data = json.loads(path.read_text(encoding="utf-8"))

    def save(self) -> None:
        if self.path:
            from cdrnet.workspace import atomic_write_bytes

            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())


def resolve_all(ips: list[str], resolver: str | None = None, timeout: float = 2.0, workers: int = 16,
                cache_path: Path | None = None) -> tuple[dict[str, str], dict[str, int]]:
    """Names for the IPs (empty string when none) and counts per lookup status."""
    server = resolver or system_resolver()
    cache = RdnsCache(cache_path)
    todo = sorted({ip for ip in ips if ip and ip not in cache.data})
    stats = {"cached": len(set(ips)) - len(todo)}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for ip, (status, name) in zip(todo, pool.map(lambda i: lookup(i, server, timeout), todo), strict=True):
            stats[status] = stats.get(status, 0) + 1
            if status != "timeout" and status != "error":
                cache.data[ip] = {"status": status, "name": name}
    cache.save()
    return {ip: cache.data.get(ip, {}).get("name", "") for ip in set(ips)}, stats
