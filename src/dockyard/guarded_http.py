"""The outbound guard (netguard.py) under httpx: every TCP connection an httpx client opens
(first request, retry, a new keep-alive connection) is resolved and checked there, then made to
the checked address. TLS still verifies, and sends SNI for, the host name: httpcore hands the
origin's host to ``start_tls`` whatever address the socket went to. Unix sockets are refused.
Used for webhook deliveries (hub/delivery.py).
"""

from __future__ import annotations

import ssl
import typing

import anyio
import httpcore
import httpx

from dockyard.netguard import OutboundError, resolve


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the check on every TCP connection it opens."""

    def __init__(self, *, allow_private: bool, setting: str) -> None:
        self.allow_private = allow_private
        self.setting = setting
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                address = await resolve(host, port, allow_private=self.allow_private, setting=self.setting)
        except (OutboundError, TimeoutError) as exc:
            raise httpcore.ConnectError(str(exc) or f"cannot resolve {host}") from None
        return await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that connects only where ``check`` allows, never through a proxy."""

    def __init__(self, *, allow_private: bool, setting: str, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private=allow_private, setting=setting),
        )
