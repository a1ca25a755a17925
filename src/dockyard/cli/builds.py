"""Automated builds: ``dockyard build link|unlink|trigger|list|log|cancel|retry``.

Commands migrate the database first and work beside a running ``dockyard serve``; ``trigger``
queues builds that any process with the builds role (``serve``, or ``dockyard worker``) then runs.
Repository names are canonicalised as everywhere (``nginx`` is ``library/nginx``). ``link
--created-by USER`` links on that account's behalf, so the account must be an administrator of
the repository, as on the other doors (``library/`` needs a site administrator).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from dockyard.cli.common import DataDir, console, fail, load_settings, out, server_url, unknown_address

if TYPE_CHECKING:
    from dockyard.builds.context import BuildsContext
    from dockyard.config import Settings

T = TypeVar("T")
build_app = typer.Typer(help="Automated builds: link a git repository, trigger and follow builds.")


def register(app: typer.Typer) -> None:
    app.add_typer(build_app, name="build")


@contextmanager
def _build_errors() -> Iterator[None]:
    from dockyard.builds.errors import BuildError
    from dockyard.builds.rules import RuleError

    try:
        yield
    except (BuildError, RuleError) as exc:
        raise fail(str(exc)) from None


def _run(data_dir: Path | None, work: Callable[[BuildsContext, Settings], Awaitable[T]]) -> T:
    import anyio

    from dockyard.server import prepare
    from dockyard.services import open_services

    settings = load_settings(data_dir=data_dir)
    prepare(settings)
    with open_services(settings) as services, _build_errors():
        return anyio.run(work, services.builds, settings)


@build_app.command()
def link(
    repository: Annotated[str, typer.Argument(help="NAMESPACE/REPOSITORY")],
    source: Annotated[str, typer.Argument(help="Git URL: https, ssh or git (no local paths)")],
    rule: Annotated[
        list[str] | None,
        typer.Option(help="TYPE:NAME=TAG, e.g. branch:main=latest or 'tag:/^v([0-9.]+)$/={\\1}'; repeatable"),
    ] = None,
    dockerfile: Annotated[
        str, typer.Option(help="Dockerfile path in the source, for every rule")
    ] = "Dockerfile",
    context: Annotated[str, typer.Option(help="Build context in the source, for every rule")] = ".",
    build_arg: Annotated[list[str] | None, typer.Option(help="NAME=VALUE build argument; repeatable")] = None,
    secret_arg: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE build argument masked in logs; repeatable")
    ] = None,
    username: Annotated[str | None, typer.Option(help="Username for an https source")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Name of the environment variable holding the https password")
    ] = None,
    deploy_key: Annotated[Path | None, typer.Option(help="SSH private key file for an ssh source")] = None,
    created_by: Annotated[str | None, typer.Option(help="Account whose rights the builds push with")] = None,
    data_dir: DataDir = None,
) -> None:
    """Link a repository to a git source; prints the webhook URLs, the secret and the trigger URL."""
    import dataclasses
    import os

    from dockyard.builds.rules import DEFAULT_RULES, Variable, parse_rule

    with _build_errors():
        variables = tuple(
            Variable(*_pair(spec), secret=secret)
            for specs, secret in ((build_arg, False), (secret_arg, True))
            for spec in specs or []
        )
        rules = [
            dataclasses.replace(r, dockerfile=dockerfile, context=context, variables=variables)
            for r in ([parse_rule(spec) for spec in rule or []] or list(DEFAULT_RULES))
        ]
    credentials: dict[str, str] = {}
    if username or password_env:
        credentials = {"username": username or "", "password": os.environ.get(password_env or "", "")}
    if deploy_key:
        credentials["ssh_key"] = deploy_key.read_text()
    name = _repository(repository)

    async def work(ctx: BuildsContext, settings: Settings) -> None:
        await _may_administer(ctx, name, created_by)
        made = await ctx.service.create_link(
            name,
            source,
            rules,
            credentials=credentials or None,
            created_by=created_by,
        )
        base = server_url(settings)
        if base is None:
            console.print(unknown_address(settings), highlight=False)
        lines = [
            f"link:            {made.link.id}",
            f"github webhook:  {base or ''}/api/build/hooks/{made.link.id}/github",
            f"gitlab webhook:  {base or ''}/api/build/hooks/{made.link.id}/gitlab",
            f"webhook secret:  {made.webhook_secret}",
            f"trigger URL:     {base or ''}/api/build/trigger/{made.link.id}/{made.trigger_token}",
            *(f"rule:            {r.source_type} {r.source_name} -> {r.docker_tag}" for r in made.link.rules),
        ]
        print("\n".join(lines))  # plain: URLs must not be wrapped

    _run(data_dir, work)


def _repository(raw: str) -> str:
    from dockyard.builds.access import repository_name

    with _build_errors():
        return repository_name(raw)


def _build_id(raw: int) -> int:
    from dockyard.builds.params import record_id

    with _build_errors():
        return record_id(raw)


async def _may_administer(ctx: BuildsContext, repository: str, account: str | None) -> None:
    """The account a link acts for must administer the repository (``library/``: a site admin)."""
    from dockyard.builds.access import decide
    from dockyard.builds.errors import BuildError

    if account is None:
        return  # the operator's own link: builds push with the namespace's rights
    principal = await ctx.accounts.principal_for(account)
    if principal is None:
        raise fail(f"no user named {account!r}")
    try:
        decide(principal, repository, await ctx.accounts.repository_actions(principal, repository), "admin")
    except BuildError:
        need = "a site administrator" if repository.startswith("library/") else "an administrator of it"
        raise fail(
            f"{account} may not link {repository}: the builds of a link act for --created-by, "
            f"which must be {need}"
        ) from None


def _pair(spec: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise fail(f"{spec!r} is not NAME=VALUE")
    return name, value


@build_app.command()
def unlink(repository: str, data_dir: DataDir = None) -> None:
    """Remove a repository's link, its rules and its build history."""
    name = _repository(repository)

    async def work(ctx: BuildsContext, _: Settings) -> None:
        await ctx.service.unlink(name)

    _run(data_dir, work)
    console.print(f"{name} is no longer linked.")


@build_app.command()
def trigger(
    repository: str,
    ref: Annotated[
        str | None, typer.Option(help="Branch or tag (or refs/heads/X, refs/tags/X); default: every rule")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Queue builds now, for one ref or for every literal rule."""
    name = _repository(repository)

    async def work(ctx: BuildsContext, _: Settings) -> None:
        found = await ctx.service.link_for(name)
        wanted: dict[str, str] = {}
        if ref:
            kind, _slash, short = ref.removeprefix("refs/").partition("/")
            if kind in ("heads", "tags") and short:
                wanted = {"source_type": "branch" if kind == "heads" else "tag", "source_name": short}
            else:
                wanted = {"source_name": ref}
        for build in await ctx.trigger(found.id, wanted, "manual"):
            out.print(
                f"build {build.id}: {build.source_type} {build.source_ref} @ {build.commit[:12]} "
                f"-> {', '.join(build.tags)}",
                highlight=False,
            )

    _run(data_dir, work)


@build_app.command("list")
def list_builds(repository: str, limit: int = 20, data_dir: DataDir = None) -> None:
    """A repository's builds, newest first."""
    name = _repository(repository)

    async def work(ctx: BuildsContext, _: Settings) -> None:
        table = Table("ID", "STATE", "REF", "COMMIT", "TAGS", "QUEUED", "DIGEST")
        for b in await ctx.service.builds(name, limit):
            table.add_row(
                str(b.id), b.state, f"{b.source_type} {escape(b.source_ref)}", b.commit[:12],
                escape(", ".join(b.tags)), b.queued_at.strftime("%Y-%m-%d %H:%M:%S"), b.digest or "-",
            )  # fmt: skip
        out.print(table)

    _run(data_dir, work)


@build_app.command()
def log(build_id: int, data_dir: DataDir = None) -> None:
    """A build's log so far."""
    build_id = _build_id(build_id)

    async def work(ctx: BuildsContext, _: Settings) -> None:
        build = await ctx.service.build(build_id)
        for line in await ctx.service.log(build_id, 0, limit=1_000_000):
            print(line.text)
        console.print(f"state: {build.state}" + (f" ({build.error})" if build.error else ""), highlight=False)

    _run(data_dir, work)


@build_app.command()
def cancel(build_id: int, data_dir: DataDir = None) -> None:
    """Cancel a queued or running build."""
    build_id = _build_id(build_id)

    async def work(ctx: BuildsContext, _: Settings) -> None:
        build = await ctx.service.cancel(build_id)
        console.print(f"build {build.id}: {build.state}", highlight=False)

    _run(data_dir, work)


@build_app.command()
def retry(build_id: int, data_dir: DataDir = None) -> None:
    """Queue a finished build again (same commit, same settings) as a new build."""
    build_id = _build_id(build_id)

    async def work(ctx: BuildsContext, _: Settings) -> None:
        build = await ctx.service.retry(build_id)
        out.print(f"build {build.id}: queued", highlight=False)

    _run(data_dir, work)
