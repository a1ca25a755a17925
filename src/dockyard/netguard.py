"""Where Dockyard may connect on a user's behalf: public addresses only, checked per connection.

Build sources (git) and webhook deliveries name hosts that users choose. Left alone, they reach
what the server can reach: its own loopback services, the private network, the cloud's metadata
service. Every such connection goes through here:

    resolve(host, port)   getaddrinfo, then every address must be public, else AddressRefused;
                          the caller connects to the address returned (pinned), never resolves again
    resolve_sync          the same without an event loop (the git connection relay)
    check(address)        the policy for one address

guarded_http.py puts this under httpx (webhooks) on every connection; builds/gitfetch.py pins
git's http(s) connections to the checked address, builds/relay.py makes git's and ssh's.
Standard library only (and anyio, already loaded where it is async): the relay imports it for
every git connection, so it must start fast.

Not public: loopback, private (RFC 1918, unique local), link-local, shared (100.64/10), multicast,
unspecified, reserved and documentation ranges, IPv6 forms that embed one of those (IPv4-mapped,
6to4, Teredo, NAT64), and the cloud metadata addresses. ``allow_private`` (an administrator's
choice, for a git server or webhook receiver on the private network) lifts the check, except for
the metadata addresses, which stay refused: nothing a build or webhook needs lives there.

Errors name the host the user gave, never the address it resolved to (internal DNS stays
private) nor anything the target answered.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address

METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure wire server (a public-looking address)
    )
)
# Not covered by ipaddress's is_global in every Python version.
NOT_PUBLIC: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("0.0.0.0/8"),
    IPv4Network("100.64.0.0/10"),
    IPv4Network("192.0.0.0/24"),
    IPv4Network("198.18.0.0/15"),
    IPv4Network("224.0.0.0/3"),  # multicast and the reserved 240/4
    IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
    IPv6Network("fec0::/10"),  # deprecated site-local
    IPv6Network("ff00::/8"),
)
NAT64 = IPv6Network("64:ff9b::/96")


class OutboundError(Exception):
    """A connection Dockyard will not make, or a host it cannot find; the message is safe to show."""


class AddressRefused(OutboundError):
    pass


class HostNotFound(OutboundError):
    pass


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo client, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    if isinstance(address, IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if address in METADATA or any(address in network for network in NOT_PUBLIC):
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def check(address: Address, host: str, *, allow_private: bool, setting: str) -> None:
    """Raise AddressRefused unless ``address`` (which ``host`` resolved to) may be connected to."""
    embedded = embedded_ipv4(address) if isinstance(address, IPv6Address) else None
    if address in METADATA or embedded in METADATA:
        raise AddressRefused(f"{host} is a cloud metadata address; Dockyard never connects there")
    if not allow_private and not is_public(address):
        raise AddressRefused(
            f"{host} is not a public address (loopback, private, link-local or reserved); "
            f"an administrator can allow such hosts with {setting}=true"
        )


def _addresses(infos: typing.Iterable[tuple[typing.Any, ...]]) -> list[Address]:
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def _pick(host: str, found: list[Address], *, allow_private: bool, setting: str) -> Address:
    if not found:
        raise HostNotFound(f"cannot resolve {host}")
    for address in found:  # every answer: a name must not mix public and internal addresses
        check(address, host, allow_private=allow_private, setting=setting)
    return found[0]


async def resolve(host: str, port: int, *, allow_private: bool, setting: str) -> Address:
    """The one address to connect to for ``host`` (pinned), once every address it has is allowed."""
    import anyio  # here, not at the top: the relay's start-up stays fast

    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostNotFound(f"cannot resolve {host}") from None
    return _pick(host, _addresses(infos), allow_private=allow_private, setting=setting)


def resolve_sync(host: str, port: int, *, allow_private: bool, setting: str) -> Address:
    """``resolve`` for code without an event loop (the git connection relay)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostNotFound(f"cannot resolve {host}") from None
    return _pick(host, _addresses(infos), allow_private=allow_private, setting=setting)
