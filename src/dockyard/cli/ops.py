"""Operations: ``dockyard gc``, ``repo delete|immutable``, ``quota``, ``retention``.

All of them work while the server runs (the collector is online: see registry/gc.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from dockyard.cli.accounts import OPERATOR, repo_app
from dockyard.cli.common import DataDir, console, fail, load_settings, out, prepare_data, with_services

if TYPE_CHECKING:
    from dockyard.registry.gc import GcReport
    from dockyard.registry.quotas import Quota
    from dockyard.services import Services


quota_app = typer.Typer(help="Storage quotas per namespace.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention policies: which tags go.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
    app.add_typer(quota_app, name="quota")
    app.add_typer(retention_app, name="retention")
    repo_app.command("delete")(repo_delete)
    repo_app.command("immutable")(repo_immutable)


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be freed; delete nothing")
    ] = False,
    grace_seconds: Annotated[
        float | None,
        typer.Option(
            "--grace-seconds",
            min=0,
            help="Spare what was pushed, linked or checked this recently [env DOCKYARD_GC_GRACE_SECONDS]",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Collect garbage online: unreachable manifests, unused blobs and links, stale uploads."""
    import anyio

    from dockyard.services import open_services

    settings = load_settings(data_dir=data_dir)
    prepare_data(settings)
    grace = settings.gc_grace_seconds if grace_seconds is None else grace_seconds

    async def collect(services: Services) -> GcReport:
        ttl = None if dry_run else settings.upload_ttl_seconds
        return await services.collector.collect(grace, dry_run=dry_run, upload_ttl_seconds=ttl)

    with open_services(settings) as services:
        report = anyio.run(collect, services)
    out.print(report.summary(), highlight=False)


def repo_delete(
    name: Annotated[str, typer.Argument(help="NS/NAME")],
    data_dir: DataDir = None,
) -> None:
    """Delete a repository with its tags and manifests; its unshared bytes go at the next gc."""

    async def delete(services: Services) -> None:
        await services.hub.delete_repository(OPERATOR, name)

    with_services(data_dir, delete)
    console.print(f"Deleted repository [bold]{escape(name)}[/bold].", highlight=False)


def repo_immutable(
    name: Annotated[str, typer.Argument(help="NS/NAME")],
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Only tags matching this RE2 expression (whole tag); repeatable"),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Let pushes move tags again")] = False,
    data_dir: DataDir = None,
) -> None:
    """Make a repository's tags immutable: a push may create a tag, never move it."""
    if off and rule:
        raise fail("--off takes no --rule")
    rules = None if off else list(rule or [])

    async def apply(services: Services) -> None:
        await services.hub.set_immutable_tags(OPERATOR, name, rules)

    with_services(data_dir, apply)
    if rules is None:
        console.print(f"Tags of [bold]{escape(name)}[/bold] may move again.", highlight=False)
    else:
        which = ", ".join(rules) if rules else "every tag"
        console.print(
            f"Tags of [bold]{escape(name)}[/bold] are immutable ({escape(which)}).", highlight=False
        )


@quota_app.command("set")
def quota_set(
    namespace: str,
    size: Annotated[str, typer.Argument(help="10GB, 512MiB, 1000 (bytes); 0 refuses every new blob")],
    data_dir: DataDir = None,
) -> None:
    """Limit the bytes of distinct blobs a namespace holds."""
    from dockyard.registry.quotas import parse_size

    try:
        limit = parse_size(size)
    except ValueError as exc:
        raise fail(str(exc)) from None
    _quota_line(
        with_services(data_dir, lambda services: services.hub.set_namespace_quota(OPERATOR, namespace, limit))
    )


@quota_app.command("unset")
def quota_unset(namespace: str, data_dir: DataDir = None) -> None:
    """Remove a namespace's quota."""
    _quota_line(
        with_services(data_dir, lambda services: services.hub.set_namespace_quota(OPERATOR, namespace, None))
    )


@quota_app.command("show")
def quota_show(namespace: str, data_dir: DataDir = None) -> None:
    """A namespace's quota and what it uses."""
    _quota_line(with_services(data_dir, lambda services: services.hub.namespace_quota(OPERATOR, namespace)))


def _quota_line(quota: Quota) -> None:
    from dockyard.registry.quotas import human

    limit = "no quota" if quota.limit is None else f"quota {human(quota.limit)} ({quota.limit} bytes)"
    out.print(f"{quota.namespace}: {limit}, used {human(quota.used)} ({quota.used} bytes)", highlight=False)


Target = Annotated[str, typer.Argument(help="NAMESPACE or NAMESPACE/NAME")]


@retention_app.command("set")
def retention_set(
    target: Target,
    keep_last: Annotated[
        int | None, typer.Option("--keep-last", min=0, help="Keep the N newest tags")
    ] = None,
    keep_days: Annotated[
        int | None, typer.Option("--keep-days", min=0, help="Keep tags pushed or pulled within D days")
    ] = None,
    keep: Annotated[list[str] | None, typer.Option("--keep", help="Always keep tags matching (RE2)")] = None,
    untagged_days: Annotated[
        int | None,
        typer.Option("--untagged-days", min=0, help="Delete untagged manifests pushed over D days ago"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set the policy of a namespace or repository (a repository's own wins)."""
    from dockyard.hub.retention import Policy

    policy = Policy(keep_last, keep_days, tuple(keep or ()), untagged_days)
    with_services(data_dir, lambda services: services.retention.set(target, policy, actor=None))
    console.print(f"Retention policy of [bold]{escape(target)}[/bold] set.", highlight=False)


@retention_app.command("unset")
def retention_unset(target: Target, data_dir: DataDir = None) -> None:
    """Remove the policy of a namespace or repository."""
    with_services(data_dir, lambda services: services.retention.set(target, None, actor=None))
    console.print(f"Retention policy of [bold]{escape(target)}[/bold] removed.", highlight=False)


@retention_app.command("preview")
def retention_preview(
    target: Annotated[
        str | None, typer.Argument(help="NAMESPACE or NAMESPACE/NAME; all when left out")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """List exactly the tags the policies would delete now."""
    doomed = with_services(data_dir, lambda services: services.retention.plan(services.clock.now(), target))
    for item in doomed:
        out.print(f"{item.reference} {item.digest} pushed {item.pushed_at:%Y-%m-%d %H:%M}", highlight=False)
    console.print(f"{len(doomed)} tags or manifests would be deleted.", highlight=False)


@retention_app.command("apply")
def retention_apply(
    target: Annotated[
        str | None, typer.Argument(help="NAMESPACE or NAMESPACE/NAME; all when left out")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Delete the tags the policies let go (each in the audit log); their bytes go at the next gc."""
    deleted = with_services(data_dir, lambda services: services.retention.apply(services.clock.now(), target))
    for item in deleted:
        out.print(f"{item.reference} {item.digest}", highlight=False)
    console.print(f"{len(deleted)} tags or manifests deleted.", highlight=False)
