"""The outbound guard's policy and its pinning, without a network (issue 8, item 10).

The end-to-end tests cover what a build or a delivery does; these pin down the parts that need a
DNS answer the machine cannot give: names resolving to several addresses, and a name whose answer
changes between two connections (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from dockyard import netguard
from dockyard.builds import relay
from dockyard.builds.gitfetch import GitSession
from dockyard.config import BuildSettings
from dockyard.guarded_http import GuardedTransport
from tests.api.helpers import Receiver

SETTING = "DOCKYARD_TEST_ALLOW"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.1.1.1", "255.255.255.255", "192.0.0.192",
        "198.18.0.1", "168.63.129.16", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1", "64:ff9b::a00:1", "fec0::1",
    ],
)  # fmt: skip
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not netguard.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are(address: str) -> None:
    assert netguard.is_public(ipaddress.ip_address(address))


def test_allowing_private_addresses_never_allows_metadata() -> None:
    loopback, metadata = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("169.254.169.254")
    netguard.check(loopback, "h", allow_private=True, setting=SETTING)
    with pytest.raises(netguard.AddressRefused, match="metadata"):
        netguard.check(metadata, "h", allow_private=True, setting=SETTING)
    with pytest.raises(netguard.AddressRefused, match=SETTING):
        netguard.check(loopback, "h", allow_private=False, setting=SETTING)


def _answers(*addresses: str) -> list[tuple[Any, ...]]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 80)) for a in addresses]


def test_a_name_with_one_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every address of a name is checked, not only the first: a mixed answer is refused, and the
    message names the host the user gave, not what it resolved to."""
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: _answers("93.184.216.34", "10.0.0.7"))
    with pytest.raises(netguard.AddressRefused) as refused:
        netguard.resolve_sync("mixed.example", 80, allow_private=False, setting=SETTING)
    assert "mixed.example" in str(refused.value) and "10.0.0.7" not in str(refused.value)


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A name whose DNS answers come from the list, one per lookup (the last one repeats)."""
    answers: list[str] = []

    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        return _answers(answers.pop(0) if len(answers) > 1 else answers[0])

    monkeypatch.setattr(anyio, "getaddrinfo", getaddrinfo)
    yield answers


def test_every_webhook_connection_is_resolved_checked_and_pinned(rebinding: list[str]) -> None:
    """The first connection goes to the address the check saw (the name itself resolves nowhere);
    when the name then points at the metadata address, the next connection is refused."""
    rebinding += ["127.0.0.1", "169.254.169.254"]

    async def two_requests(url: str) -> tuple[int, str]:
        transport = GuardedTransport(allow_private=True, setting=SETTING)
        async with httpx.AsyncClient(transport=transport, headers={"Connection": "close"}) as client:
            first = await client.post(url, content=b"{}")
            with pytest.raises(httpx.ConnectError) as second:
                await client.post(url, content=b"{}")
        return first.status_code, str(second.value)

    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        status, refused = anyio.run(two_requests, f"http://rebinding.invalid:{port}/hook")
        assert status == 200 and len(receiver.snapshot()) == 1
    assert "metadata" in refused


def test_the_relay_connects_only_to_the_sources_host(capsys: pytest.CaptureFixture[str]) -> None:
    """git's and ssh's connections: another host (a submodule elsewhere) or an internal address is
    refused with our own words."""
    assert relay.main(["--expect", "git.example.com", "--port", "9418", "evil.example.com", "9418"]) == 1
    assert "only the source's host" in capsys.readouterr().err
    assert relay.main(["--expect", "127.0.0.1", "--port", "9418", "127.0.0.1", "9418"]) == 1
    assert "not a public address" in capsys.readouterr().err


def test_git_is_pinned_and_its_environment_is_ours(tmp_path: Path, rebinding: list[str]) -> None:
    """For an http source git gets the checked address (curloptResolve), no redirects, one
    protocol, credentials for the source's origin only, and an environment of fixed values."""
    rebinding.append("93.184.216.34")
    session = GitSession.for_url(
        BuildSettings(), tmp_path, "https://git.example.com/o/r.git", {"username": "u", "password": "pw"}
    )
    anyio.run(session.prepare)
    config = (tmp_path / "config").read_text()
    assert 'curloptResolve = "git.example.com:443:93.184.216.34"' in config
    assert 'followRedirects = "false"' in config and '[protocol "https"]' in config
    assert '[http "https://git.example.com/"]\n\textraHeader = "Authorization: Basic ' in config
    assert config.count("extraHeader") == 1
    assert set(session.environment()) == {
        "PATH", "HOME", "LANG", "LC_ALL", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_TERMINAL_PROMPT",
        "GIT_ASKPASS", "SSH_ASKPASS", "GIT_ALLOW_PROTOCOL", "GIT_PROTOCOL_FROM_USER",
    }  # fmt: skip
    assert session.environment()["GIT_ALLOW_PROTOCOL"] == "https"
