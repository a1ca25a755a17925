"""`dockyard proxy add|list|limit|remove` as an administrator types them, in-process through
Typer's runner on a data folder of the test's own: what each prints and stores, and the one-line
error (exit status 1, nothing stored) of every combination of flags that makes no sense."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dockyard.cli.main import app
from dockyard.config import Settings
from dockyard.proxy.records import Credentials, ProxyConfig
from dockyard.services import build_services
from tests.ops.test_cli import Cli

UPSTREAM = "https://registry.example.com"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


@pytest.fixture(scope="module")
def untouched(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One data folder for the refusals: each leaves it as it found it (no proxy namespace)."""
    return Cli(tmp_path_factory.mktemp("proxy-cli") / "data")


def stored(cli: Cli) -> dict[str, ProxyConfig]:
    """The proxy namespaces in the data folder, read through the service (not the CLI's output)."""
    services = build_services(Settings(data_dir=cli.data_dir))
    try:
        return {c.namespace: c for c in anyio.run(services.proxy.list)}
    finally:
        services.close()


def sealed(cli: Cli, namespace: str) -> Credentials | None:
    services = build_services(Settings(data_dir=cli.data_dir))
    try:
        return anyio.run(services.proxy.rows.credentials, namespace)
    finally:
        services.close()


def test_add_a_private_proxy_with_credentials_and_a_size_limit(cli: Cli) -> None:
    flags = ["-u", "bot", "--password-stdin", "--private", "--ttl", "60", "--size-limit", "2GB"]
    added = cli.runner.invoke(app, ["proxy", "add", "corp", UPSTREAM, *flags], input="upstream-secret\n")
    assert added.exit_code == 0, added.output
    assert "Proxy namespace corp pulls through https://registry.example.com (private" in added.stderr
    assert "after 60s" in added.stderr and "upstream-secret" not in added.output
    config = stored(cli)["corp"]
    assert config.is_private and config.has_credentials and config.ttl_seconds == 60
    assert config.size_limit_bytes == 2 * 10**9 and not config.is_mirror
    assert sealed(cli, "corp") == Credentials("bot", "upstream-secret")  # the line, without its newline
    listed = cli("proxy", "list")
    assert "corp" in listed and "credentials" in listed and "private" in listed
    assert "2000000000" in listed and "upstream-secret" not in listed


def test_limit_sets_and_clears_the_size_limit(cli: Cli) -> None:
    cli("proxy", "add", "hub", UPSTREAM)
    assert stored(cli)["hub"].size_limit_bytes is None
    assert "has a size limit of 512000000 bytes" in cli("proxy", "limit", "hub", "512MB")
    assert stored(cli)["hub"].size_limit_bytes == 512 * 10**6
    assert "has no size limit" in cli("proxy", "limit", "hub", "none")
    assert stored(cli)["hub"].size_limit_bytes is None
    assert "not a proxy namespace" in cli("proxy", "limit", "nope", "1GB", code=1)
    assert "size" in cli("proxy", "limit", "hub", "lots", code=1).lower()
    assert "positive" in cli("proxy", "limit", "hub", "0", code=1)


def test_remove_stops_proxying_and_a_second_remove_says_so(cli: Cli) -> None:
    cli("proxy", "add", "hub", UPSTREAM)
    assert "Removed proxy namespace hub." in cli("proxy", "remove", "hub")
    assert stored(cli) == {}
    assert "'hub' is not a proxy namespace" in cli("proxy", "remove", "hub", code=1)
    cli("proxy", "add", "hub", UPSTREAM)  # nothing was cached: the name was freed


def test_the_instance_mirror(cli: Cli) -> None:
    made = cli("proxy", "add", "--mirror", UPSTREAM)
    assert f"Instance mirror of {UPSTREAM}, cached under mirror/." in made
    assert stored(cli)["mirror"].is_mirror
    assert "(instance mirror)" in cli("proxy", "list")
    assert "mirror" in cli("proxy", "add", "other", "--mirror", UPSTREAM, code=1)  # only one


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["hub", UPSTREAM, "--password-stdin"], "--password-stdin needs --username"),
        (["hub", UPSTREAM, "--username", "bot"], "give the upstream password on stdin with --password-stdin"),
        (["--mirror", UPSTREAM, "--private"], "not --private"),
        (["hub", UPSTREAM, "--mirror", UPSTREAM], "with --mirror URL, give at most the namespace"),
        (["hub"], "give NAMESPACE UPSTREAM_URL, or --mirror UPSTREAM_URL"),
        ([], "give NAMESPACE UPSTREAM_URL, or --mirror UPSTREAM_URL"),
        (["hub", UPSTREAM, "--size-limit", "huge"], "size"),
        (["hub", UPSTREAM, "--size-limit", "0"], "positive"),
        (["hub", UPSTREAM, "--ttl", "-1"], "TTL"),
        (["Hub", UPSTREAM], "not a proxy namespace name"),
        (["library", UPSTREAM], "not a proxy namespace name"),
        (["hub", "ftp://registry.example.com"], "http:// or https://"),
        (["hub", "https://bot:pw@registry.example.com"], "--username and --password-stdin"),
    ],
)
def test_flags_that_make_no_sense_are_one_line_errors_and_store_nothing(
    untouched: Cli, args: list[str], error: str
) -> None:
    cli = untouched
    result = cli.runner.invoke(app, ["proxy", "add", *args], input="secret\n")
    assert result.exit_code == 1, (args, result.output, result.exception)
    assert error.lower() in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.output
    assert stored(cli) == {}
