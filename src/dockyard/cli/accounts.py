"""Account administration: ``dockyard user|org|team|token|repo ...`` and ``dockyard audit``.
Organisation members, team deletion and collaborators are in orgs.py.

The operator at the command line may do anything: these commands call AccountService directly,
without the role checks the pages and the API go through (accounts/roles.py).

Each command migrates the database first and works while ``dockyard serve`` runs. Results go to
stdout (tables, a new token), messages to stderr; domain errors exit 1 with one red line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from dockyard.accounts.policy import OWNERS_TEAM
from dockyard.accounts.records import (
    TOKEN_SCOPES,
    AccessToken,
    Principal,
    RepositoryInfo,
    Team,
    TeamPermission,
    User,
)
from dockyard.cli.common import (
    DataDir,
    console,
    fail,
    out,
    with_accounts,
    with_services,
)

if TYPE_CHECKING:
    from dockyard.accounts.service import AccountService
    from dockyard.hub.service import HubService

T = TypeVar("T")
# The operator at the command line: an administrator with no account of its own (audit actor: none).
OPERATOR = Principal(username="", user_id=0, is_admin=True)

user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
org_app = typer.Typer(help="Manage organisations.", no_args_is_help=True)
team_app = typer.Typer(
    help="Manage an organisation's teams and their repository permissions.", no_args_is_help=True
)
token_app = typer.Typer(help="Manage personal access tokens.", no_args_is_help=True)
repo_app = typer.Typer(help="Manage repositories.", no_args_is_help=True)

Visibility = Annotated[
    bool | None, typer.Option("--private/--public", help="Visibility [default: the namespace's default]")
]


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(org_app, name="org")
    app.add_typer(team_app, name="team")
    app.add_typer(token_app, name="token")
    app.add_typer(repo_app, name="repo")
    app.command("audit")(audit)
    from dockyard.cli import orgs  # its commands join the org, team and repo groups above

    orgs.register(org_app, team_app, repo_app)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "-"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on standard input")
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return prompted


# -- users -----------------------------------------------------------------------------------------


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Docker ID: 4-30 lowercase letters and digits")],
    email: Annotated[str, typer.Option(help="Email address")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make the user a site administrator")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of stdin")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user (prompts for the password twice unless --password-stdin)."""
    password = _read_password(password_stdin)
    user = with_accounts(data_dir, lambda accounts: accounts.create_user(name, email, password, admin=admin))
    role = "administrator" if user.is_admin else "user"
    console.print(f"Created {role} [bold]{escape(user.username)}[/bold].", highlight=False)


@user_app.command("list")
def user_list(data_dir: DataDir = None) -> None:
    """List users."""
    users: list[User] = with_accounts(data_dir, lambda accounts: accounts.list_users())
    table = Table("Name", "Email", "Admin", "Created (UTC)", "Last login", "State")
    for user in users:
        table.add_row(
            escape(user.username),
            escape(user.email),
            "yes" if user.is_admin else "",
            _when(user.created_at),
            _when(user.last_login_at),
            f"disabled {_when(user.disabled_at)}" if user.disabled else "active",
        )
    out.print(table)


@user_app.command("set-admin")
def user_set_admin(
    name: str,
    admin: Annotated[
        bool, typer.Option("--admin/--no-admin", help="Grant or take away site administration")
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Make a user a site administrator, or (--no-admin) no longer one."""
    with_accounts(data_dir, lambda accounts: accounts.set_admin(name, admin))
    state = "now" if admin else "no longer"
    console.print(f"{escape(name)} is {state} a site administrator.", highlight=False)


@user_app.command("set-password")
def user_set_password(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Set a user's password: every web session, refresh token and hub token of the old one ends.

    Personal access tokens are credentials of their own and keep working; `dockyard token revoke`
    ends them."""
    password = _read_password(password_stdin)
    with_accounts(data_dir, lambda accounts: accounts.set_password(name, password))
    console.print(
        f"Password of {escape(name)} changed; the sessions and tokens of the old password no longer work.",
        highlight=False,
    )


@user_app.command("disable")
def user_disable(name: str, data_dir: DataDir = None) -> None:
    """Disable a user: no login on any door, and every session, token and personal access token
    stops working at once. `dockyard user enable` undoes it (sessions stay ended)."""
    with_accounts(data_dir, lambda accounts: accounts.set_disabled(name, True))
    console.print(f"{escape(name)} is disabled: logins, sessions and tokens are refused.", highlight=False)


@user_app.command("enable")
def user_enable(name: str, data_dir: DataDir = None) -> None:
    """Enable a disabled user again: their password and personal access tokens work again."""
    with_accounts(data_dir, lambda accounts: accounts.set_disabled(name, False))
    console.print(f"{escape(name)} is enabled.", highlight=False)


@user_app.command("delete")
def user_delete(
    name: str,
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="The user's name again, to confirm without a prompt")
    ] = None,
    delete_repositories: Annotated[
        bool,
        typer.Option(
            "--delete-repositories",
            help="First delete every repository in the user's namespace, as the hub deletes one",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete a user for good: tokens, sessions, team memberships and stars go with the account.

    Refused while the namespace holds repositories, unless --delete-repositories, and while the
    user is an organisation's last owner. The name is retired and never given out again, so
    nobody can take it over and answer the pulls meant for the old owner."""
    if confirm is None:
        confirm = typer.prompt(f"This cannot be undone. Type {name} to delete the account", err=True)
    if confirm != name:
        raise fail(f"the confirmation {confirm!r} is not {name!r}; nothing was deleted")
    removed = _run_with_hub(data_dir, lambda hub: _delete_user(hub, name, delete_repositories))
    also = f" and {removed} repositories" if removed else ""
    console.print(f"Deleted user {escape(name)}{also}; the name stays retired.", highlight=False)


async def _delete_user(hub: HubService, name: str, with_repositories: bool) -> int:
    removed = 0
    if with_repositories and await hub.accounts.get_user(name) is not None:
        for repo in await hub.accounts.list_repositories(name):
            await hub.delete_repository(OPERATOR, repo.name)
            removed += 1
    await hub.accounts.delete_user(name)
    await hub.recount_stars()  # the listing column of what the account had starred
    return removed


def _run_with_hub(data_dir: Path | None, work: Callable[[HubService], Awaitable[T]]) -> T:
    """``with_accounts``, with the whole hub (registry and storage too) for repository deletions."""
    return with_services(data_dir, lambda services: work(services.hub))


# -- organisations and teams -----------------------------------------------------------------------


@org_app.command("create")
def org_create(
    name: str,
    owner: Annotated[str, typer.Option("--owner", help="The first member of the owners team")],
    data_dir: DataDir = None,
) -> None:
    """Create an organisation with an "owners" team holding --owner."""
    with_accounts(data_dir, lambda accounts: accounts.create_org(name, owner))
    console.print(
        f"Created organisation [bold]{escape(name)}[/bold] owned by {escape(owner)}.", highlight=False
    )


@org_app.command("list")
def org_list(data_dir: DataDir = None) -> None:
    """List organisations."""
    orgs = with_accounts(data_dir, lambda accounts: accounts.list_orgs())
    table = Table("Name", "New repositories", "Created (UTC)")
    for org in orgs:
        table.add_row(escape(org.name), "private" if org.default_private else "public", _when(org.created_at))
    out.print(table)


@team_app.command("create")
def team_create(
    org: str,
    team: str,
    description: Annotated[str, typer.Option(help="What the team is for")] = "",
    data_dir: DataDir = None,
) -> None:
    """Create a team in an organisation."""
    with_accounts(data_dir, lambda accounts: accounts.create_team(org, team, description))
    console.print(f"Created team [bold]{escape(org)}/{escape(team)}[/bold].", highlight=False)


@team_app.command("list")
def team_list(org: str, data_dir: DataDir = None) -> None:
    """List an organisation's teams, members and repository permissions."""

    async def work(accounts: AccountService) -> tuple[list[Team], list[TeamPermission]]:
        return await accounts.list_teams(org), await accounts.list_team_permissions(org)

    teams, grants = with_accounts(data_dir, work)
    table = Table("Team", "Members", "Permissions", "Description")
    for team in teams:
        held = ", ".join(f"{g.repository}: {g.permission}" for g in grants if g.team == team.name)
        if team.name == OWNERS_TEAM:
            held = "every repository: admin"
        table.add_row(
            escape(team.name), escape(", ".join(team.members)), escape(held), escape(team.description)
        )
    out.print(table)


@team_app.command("add-member")
def team_add_member(org: str, team: str, user: str, data_dir: DataDir = None) -> None:
    """Add a user to a team."""
    added = with_accounts(data_dir, lambda accounts: accounts.add_team_member(org, team, user))
    verb = "Added" if added else "Already a member:"
    console.print(f"{verb} {escape(user)} to {escape(org)}/{escape(team)}.", highlight=False)


@team_app.command("remove-member")
def team_remove_member(org: str, team: str, user: str, data_dir: DataDir = None) -> None:
    """Remove a user from a team."""
    with_accounts(data_dir, lambda accounts: accounts.remove_team_member(org, team, user))
    console.print(f"Removed {escape(user)} from {escape(org)}/{escape(team)}.", highlight=False)


@team_app.command("grant")
def team_grant(
    org: str,
    team: str,
    repository: Annotated[str, typer.Argument(help="ORG/NAME, an existing repository of the organisation")],
    permission: Annotated[str, typer.Option("--permission", "-p", help="read, write or admin")] = "read",
    data_dir: DataDir = None,
) -> None:
    """Give a team read, write or admin on one repository."""
    with_accounts(data_dir, lambda accounts: accounts.set_team_permission(org, team, repository, permission))
    console.print(
        f"Team {escape(org)}/{escape(team)} has [bold]{escape(permission)}[/bold] on {escape(repository)}.",
        highlight=False,
    )


@team_app.command("revoke")
def team_revoke(org: str, team: str, repository: str, data_dir: DataDir = None) -> None:
    """Take away a team's permission on one repository."""
    with_accounts(data_dir, lambda accounts: accounts.remove_team_permission(org, team, repository))
    console.print(
        f"Team {escape(org)}/{escape(team)} no longer has access to {escape(repository)}.", highlight=False
    )


# -- personal access tokens ------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    user: str,
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"One of {', '.join(TOKEN_SCOPES)} (repeatable)")
    ],
    label: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a personal access token and print it once: it cannot be shown again."""
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    token, plaintext = with_accounts(
        data_dir, lambda accounts: accounts.create_token(user, label, scope, expires_at)
    )
    expires = f"{_when(token.expires_at)} UTC" if token.expires_at else "never"
    console.print(
        f"Created access token {token.id} ({escape(token.label)}, {', '.join(sorted(token.scopes))}) "
        f"for {escape(token.username)}, expires {expires}.\n"
        "Copy it now; it will not be shown again. Use it as the password of `docker login`:",
        highlight=False,
    )
    print(plaintext, flush=True)  # alone on stdout, so scripts can capture it


@token_app.command("list")
def token_list(user: str, data_dir: DataDir = None) -> None:
    """List a user's personal access tokens (never the tokens themselves)."""
    tokens: list[AccessToken] = with_accounts(data_dir, lambda accounts: accounts.list_tokens(user))
    table = Table("ID", "Label", "Scopes", "Token", "Created", "Expires", "Last used (UTC)", "State")
    now = datetime.now(UTC)
    for token in tokens:
        expired = token.expires_at is not None and token.expires_at <= now
        state = "revoked" if token.revoked else "expired" if expired else "active"
        table.add_row(
            str(token.id),
            escape(token.label),
            ", ".join(sorted(token.scopes)),
            escape(token.hint),
            _day(token.created_at),
            _day(token.expires_at),
            _when(token.last_used_at),
            state,
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    user: str, token_id: Annotated[int, typer.Argument(metavar="ID")], data_dir: DataDir = None
) -> None:
    """Revoke a personal access token: it stops working at once."""
    token = with_accounts(data_dir, lambda accounts: accounts.revoke_token(user, token_id))
    console.print(
        f"Revoked access token {token.id} ({escape(token.label)}) of {escape(user)}.", highlight=False
    )


# -- repositories ----------------------------------------------------------------------------------


@repo_app.command("create")
def repo_create(
    name: Annotated[str, typer.Argument(help="NAMESPACE/NAME")],
    private: Visibility = None,
    description: Annotated[str, typer.Option(help="Short description (at most 100 characters)")] = "",
    data_dir: DataDir = None,
) -> None:
    """Create a repository before its first push."""
    repo: RepositoryInfo = with_accounts(
        data_dir,
        lambda accounts: accounts.create_repository(name, private=private, description=description),
    )
    visibility = "private" if repo.is_private else "public"
    console.print(f"Created {visibility} repository [bold]{escape(repo.name)}[/bold].", highlight=False)


@repo_app.command("list")
def repo_list(
    namespace: Annotated[str | None, typer.Argument(help="Only this user's or organisation's")] = None,
    data_dir: DataDir = None,
) -> None:
    """List repositories."""
    repos: list[RepositoryInfo] = with_accounts(
        data_dir, lambda accounts: accounts.list_repositories(namespace)
    )
    table = Table("Name", "Visibility", "Description", "Created (UTC)", "Last push")
    for repo in repos:
        table.add_row(
            escape(repo.name),
            "private" if repo.is_private else "public",
            escape(repo.description),
            _when(repo.created_at),
            _when(repo.pushed_at),
        )
    out.print(table)


@repo_app.command("visibility")
def repo_visibility(
    name: str,
    private: Annotated[bool, typer.Option("--private/--public", help="The new visibility")],
    data_dir: DataDir = None,
) -> None:
    """Make a repository private or public."""
    repo = with_accounts(data_dir, lambda accounts: accounts.set_visibility(name, private))
    console.print(
        f"{escape(repo.name)} is now {'private' if repo.is_private else 'public'}.", highlight=False
    )


@repo_app.command("default-visibility")
def repo_default_visibility(
    namespace: Annotated[str, typer.Argument(help="A user or organisation")],
    private: Annotated[
        bool, typer.Option("--private/--public", help="Visibility of repositories made by a push")
    ],
    data_dir: DataDir = None,
) -> None:
    """Choose whether a push that creates a repository in NAMESPACE makes it private or public."""
    with_accounts(data_dir, lambda accounts: accounts.set_default_private(namespace, private))
    visibility = "private" if private else "public"
    console.print(f"New repositories in {escape(namespace)} will be {visibility}.", highlight=False)


# -- audit log -------------------------------------------------------------------------------------


def audit(
    limit: Annotated[int, typer.Option(min=1, help="How many events, newest first")] = 50,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. login.failure")] = None,
    actor: Annotated[str | None, typer.Option(help="Only events caused by this user")] = None,
    data_dir: DataDir = None,
) -> None:
    """Show the security audit log (logins, tokens, pushes, deletes, permission changes)."""
    events = with_accounts(data_dir, lambda accounts: accounts.list_events(limit, kind=kind, actor=actor))
    table = Table("Time (UTC)", "Event", "Actor", "IP", "Target", "Detail")
    for event in events:
        table.add_row(
            event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(event.kind),
            escape(event.actor or "-"),
            escape(event.ip or "-"),
            escape(event.target or "-"),
            escape(json.dumps(event.detail, sort_keys=True)) if event.detail else "",
        )
    out.print(table)
