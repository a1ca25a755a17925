"""Who is asking: the client address, the one function everything that keys on it reads.

Behind a reverse proxy every TCP peer is the proxy. ``X-Forwarded-For`` names the client, but
anyone can send that header, so it is believed only from peers listed in
``DOCKYARD_TRUSTED_PROXIES``, and only as far back as the chain stays trusted: the header is read
right to left (each proxy appends the address it saw) and the first address that is not a
trusted proxy is the client. ``203.0.113.9, 10.0.0.5`` from the trusted peer 10.0.0.2 with
10.0.0.0/8 trusted is 203.0.113.9; whatever the client wrote further left is ignored.

The request edge (edge.py, with accesslog.py) resolves the address once per request and writes
it into the ASGI scope's ``client``, so the login throttle, the rate limiters, the audit log and
the access log all see the same address through ``client_ip``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_ip(scope: Any) -> str | None:
    """The client's address for this request (``scope`` is an ASGI scope or anything with one)."""
    scope = getattr(scope, "scope", scope)
    client = scope.get("client")
    return str(client[0]) if client else None


class TrustedProxies:
    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)

    def trusts(self, address: str | None) -> bool:
        if not self.networks:  # the usual set-up: no proxy in front, nothing to parse
            return False
        parsed = _parse(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: list[str]) -> str | None:
        """The client's address given the TCP peer and every ``X-Forwarded-For`` header value."""
        if not self.networks or not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        nearest = peer
        for hop in reversed(hops):
            address = _parse(hop)
            if address is None:  # garbage: stop at the last address a trusted proxy vouched for
                return nearest
            nearest = str(address)
            if not any(address in network for network in self.networks):
                return nearest
        return nearest


def _parse(value: str | None) -> Address | None:
    """An address as proxies write it: bare, or with a port (``1.2.3.4:5``, ``[::1]:5``)."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
