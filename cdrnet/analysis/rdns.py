"""Reverse DNS of destination IPs: concurrent, bounded by a timeout, cached in the workspace.

Off by default (as the paper planned): air-gapped machines have no resolver,
and lookups leak the case's destinations to whoever runs the resolver. A PTR
name is data from the network, never markup: it is escaped wherever shown.
"""

from __future__ import annotations

import ipaddress
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dnslib import QTYPE, RCODE, DNSRecord

from cdrnet.errors import UsageError


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


def lookup(ip: str, resolver: str, timeout: float) -> tuple[str, str]:
    """(status, name): status is ok, nxdomain, noname, timeout or error."""
    try:
        rev = ipaddress.ip_address(ip).reverse_pointer
    except ValueError:
        return "error", ""
    host, port = _split(resolver)
    try:
        reply = DNSRecord.parse(DNSRecord.question(rev, "PTR").send(host, port, timeout=timeout))
    except TimeoutError:
        return "timeout", ""
    except OSError:
        return "error", ""
    except Exception:  # noqa: BLE001 - a malformed reply is a failed lookup, not a crash
        return "error", ""
    if reply.header.rcode == RCODE.NXDOMAIN:
        return "nxdomain", ""
    names = [str(rr.rdata).rstrip(".") for rr in reply.rr if rr.rtype == QTYPE.PTR]
    return ("ok", names[0]) if names else ("noname", "")


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
