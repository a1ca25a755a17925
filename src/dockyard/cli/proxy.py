"""``dockyard proxy add|list|remove|limit``: proxy namespaces, pull-through caches of upstream registries."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from dockyard.cli.common import DataDir, console, fail, out, with_services

if TYPE_CHECKING:
    from dockyard.proxy.records import ProxyConfig
    from dockyard.proxy.service import ProxyService

T = TypeVar("T")

proxy_app = typer.Typer(
    help="Proxy namespaces: pulls of HOST/NAMESPACE/PATH fetch UPSTREAM/PATH once and serve it from cache.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(proxy_app, name="proxy")


def _with_proxy(data_dir: Path | None, work: Callable[[ProxyService], Awaitable[T]]) -> T:
    from dockyard.proxy.records import ProxyError

    try:
        return with_services(data_dir, lambda services: work(services.proxy))
    except ProxyError as exc:
        raise fail(exc.message) from None


@proxy_app.command("add")
def proxy_add(
    namespace: Annotated[
        str | None, typer.Argument(help="The proxy namespace (with --mirror: where it caches)")
    ] = None,
    upstream_url: Annotated[str | None, typer.Argument(help="The upstream registry's URL")] = None,
    mirror: Annotated[
        str | None,
        typer.Option("--mirror", help="Make UPSTREAM the instance mirror (docker's registry-mirrors)"),
    ] = None,
    username: Annotated[str | None, typer.Option("--username", "-u", help="Upstream account")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the upstream password (or token) from stdin")
    ] = False,
    ttl: Annotated[
        int, typer.Option("--ttl", help="Seconds a cached tag is served before a HEAD upstream")
    ] = 300,
    private: Annotated[
        bool, typer.Option("--private", help="Only administrators and the organisation's members pull")
    ] = False,
    size_limit: Annotated[
        str | None,
        typer.Option("--size-limit", help="e.g. 20GB: beyond it, the least recently pulled is evicted"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Make NAMESPACE a read-only pull-through cache of the registry at UPSTREAM_URL.

    With --mirror UPSTREAM, pulls of names Dockyard does not hold go to UPSTREAM (docker's
    registry-mirrors), cached under NAMESPACE (default: mirror)."""
    from dockyard.proxy.records import MIRROR_NAMESPACE, Credentials, ProxyError, parse_size

    try:
        limit = None if size_limit is None else parse_size(size_limit)
    except ProxyError as exc:
        raise fail(exc.message) from None

    if mirror is not None:
        if upstream_url is not None:
            raise fail("with --mirror URL, give at most the namespace it caches under")
        if private:
            raise fail(
                "the instance mirror answers every pull of a name Dockyard does not hold: not --private"
            )
        namespace, upstream_url = namespace or MIRROR_NAMESPACE, mirror
    if namespace is None or upstream_url is None:
        raise fail("give NAMESPACE UPSTREAM_URL, or --mirror UPSTREAM_URL")
    name, url = namespace, upstream_url

    if password_stdin and username is None:
        raise fail("--password-stdin needs --username")
    credentials = None
    if username is not None:
        if not password_stdin:
            raise fail("give the upstream password on stdin with --password-stdin")
        credentials = Credentials(username, sys.stdin.readline().rstrip("\r\n"))
    config = _with_proxy(
        data_dir,
        lambda proxy: proxy.add(
            name,
            url,
            credentials=credentials,
            ttl_seconds=ttl,
            private=private,
            mirror=mirror is not None,
            size_limit=limit,
        ),
    )
    if config.is_mirror:
        console.print(
            f"Instance mirror of {escape(config.upstream_url)}, cached under {escape(config.namespace)}/.",
            highlight=False,
        )
        return
    console.print(
        f"Proxy namespace [bold]{escape(config.namespace)}[/bold] pulls through "
        f"{escape(config.upstream_url)} "
        f"({'private' if config.is_private else 'public'}, tags re-checked after {config.ttl_seconds}s).",
        highlight=False,
    )


@proxy_app.command("list")
def proxy_list(data_dir: DataDir = None) -> None:
    """List proxy namespaces (credentials are never shown)."""
    found: list[ProxyConfig] = _with_proxy(data_dir, lambda proxy: proxy.list(usage=True))
    table = Table(
        "Namespace",
        "Upstream",
        "Auth",
        "TTL (s)",
        "Visibility",
        "Cached (bytes)",
        "Limit (bytes)",
        "Hits",
        "Misses",
        "Last check (UTC)",
    )
    for config in found:
        checked = config.last_checked_at.strftime("%Y-%m-%d %H:%M") if config.last_checked_at else "-"
        table.add_row(
            escape(config.namespace),
            escape(config.upstream_url) + (" (instance mirror)" if config.is_mirror else ""),
            "credentials" if config.has_credentials else "anonymous",
            str(config.ttl_seconds),
            "private" if config.is_private else "public",
            str(config.usage_bytes),
            "-" if config.size_limit_bytes is None else str(config.size_limit_bytes),
            str(config.hits),
            str(config.misses),
            checked,
        )
    out.print(table)


@proxy_app.command("remove")
def proxy_remove(namespace: str, data_dir: DataDir = None) -> None:
    """Stop proxying NAMESPACE. Cached repositories stay, readable by administrators only."""
    left = _with_proxy(data_dir, lambda proxy: proxy.remove(namespace))
    tail = f"; {left} cached repositories stay" if left else ""
    console.print(f"Removed proxy namespace {escape(namespace)}{tail}.", highlight=False)


@proxy_app.command("limit")
def proxy_limit(
    namespace: str,
    size: Annotated[str, typer.Argument(help="e.g. 20GB, 512MiB, or none")],
    data_dir: DataDir = None,
) -> None:
    """Limit what NAMESPACE caches: beyond SIZE, the least recently pulled manifests are evicted."""
    from dockyard.proxy.records import ProxyError, parse_size

    try:
        limit = parse_size(size)
    except ProxyError as exc:
        raise fail(exc.message) from None
    _with_proxy(data_dir, lambda proxy: proxy.set_limit(namespace, limit))
    shown = "no size limit" if limit is None else f"a size limit of {limit} bytes"
    console.print(f"Proxy namespace {escape(namespace)} has {shown}.", highlight=False)
