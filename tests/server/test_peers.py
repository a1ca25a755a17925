"""The client address behind proxies (peers.py): X-Forwarded-For only from trusted peers."""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.config import Settings
from dockyard.peers import TrustedProxies, client_ip

PROXIES = TrustedProxies([ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.5"], "198.51.100.1"),  # right to left
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers are one list
        ("10.0.0.2", ["10.1.1.1, 10.0.0.5"], "10.1.1.1"),  # all trusted: the furthest
        ("10.0.0.2", ["garbage, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["198.51.100.1, garbage"], "10.0.0.2"),  # stops at what a trusted hop vouched
        ("10.0.0.2", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.0.0.2", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("::1", ["2001:db8::1"], "2001:db8::1"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # IPv4-mapped peer
        ("10.0.0.2", [], "10.0.0.2"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], client: str | None) -> None:
    assert PROXIES.client(peer, forwarded) == client


def test_nobody_is_trusted_by_default() -> None:
    proxies = TrustedProxies(Settings().trusted_networks)
    assert proxies.client("127.0.0.1", ["198.51.100.1"]) == "127.0.0.1"


def test_the_setting_takes_addresses_and_cidrs_and_refuses_garbage() -> None:
    settings = Settings(trusted_proxies=" 10.1.2.3/8, 192.0.2.1 ,::1")
    assert settings.trusted_proxies == "10.0.0.0/8,192.0.2.1/32,::1/128"
    assert Settings(trusted_proxies=settings.trusted_proxies) == settings  # round-trips to workers
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies="10.0.0.0/8, example.com")


def test_client_ip_reads_the_scope() -> None:
    assert client_ip({"client": ("192.0.2.7", 1234)}) == "192.0.2.7"
    assert client_ip({"client": None}) is None
