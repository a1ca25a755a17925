"""Organisation members and roles, deleting organisations and teams, and repository collaborators:
``dockyard org member ...``, ``org delete``, ``team delete``, ``repo collaborator ...``.

They join the ``org``, ``team`` and ``repo`` groups of accounts.py (``register``) and, like every
account command, run as the operator: AccountService without the role checks of accounts/roles.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dockyard.accounts.records import Collaborator, OrgMember
from dockyard.cli.common import DataDir, console, fail, out, with_accounts

org_app = typer.Typer()
team_app = typer.Typer()
member_app = typer.Typer(help="Manage an organisation's members and their roles.", no_args_is_help=True)
collaborator_app = typer.Typer(
    help="Manage the collaborators of a personal repository.", no_args_is_help=True
)
Permission = Annotated[str, typer.Option("--permission", "-p", help="read, write or admin")]


def register(orgs: typer.Typer, teams: typer.Typer, repositories: typer.Typer) -> None:
    for command in org_app.registered_commands:
        orgs.registered_commands.append(command)
    for command in team_app.registered_commands:
        teams.registered_commands.append(command)
    orgs.add_typer(member_app, name="member")
    repositories.add_typer(collaborator_app, name="collaborator")


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


@org_app.command("delete")
def org_delete(
    name: str,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The organisation's name again, to confirm without a prompt"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Delete an organisation that holds no repositories.

    Its teams, memberships and permissions go with it, and its name is retired, never given out
    again: whoever took it over would receive the pulls meant for the old organisation."""
    if confirm is None:
        confirm = typer.prompt(f"This cannot be undone. Type {name} to delete the organisation", err=True)
    if confirm != name:
        raise fail(f"the confirmation {confirm!r} is not {name!r}; nothing was deleted")
    with_accounts(data_dir, lambda accounts: accounts.delete_org(name))
    console.print(f"Deleted organisation {escape(name)}; the name stays retired.", highlight=False)


@member_app.command("list")
def org_member_list(org: str, data_dir: DataDir = None) -> None:
    """List an organisation's members, their roles and teams."""
    found: list[OrgMember] = with_accounts(data_dir, lambda accounts: accounts.list_members(org))
    table = Table("Member", "Role", "Teams", "Joined (UTC)")
    for member in found:
        table.add_row(
            escape(member.username), member.role, escape(", ".join(member.teams)), _when(member.joined_at)
        )
    out.print(table)


@member_app.command("add")
def org_member_add(
    org: str,
    user: str,
    role: Annotated[str, typer.Option("--role", help="owner or member")] = "member",
    data_dir: DataDir = None,
) -> None:
    """Add a user to an organisation as a member (in no team) or an owner."""
    with_accounts(data_dir, lambda accounts: accounts.add_member(org, user, role))
    console.print(f"Added {escape(user)} to {escape(org)} as {escape(role)}.", highlight=False)


@member_app.command("role")
def org_member_role(
    org: str,
    user: str,
    role: Annotated[str, typer.Argument(help="owner or member")],
    data_dir: DataDir = None,
) -> None:
    """Make a member an owner, or an owner a member (never the last owner)."""
    with_accounts(data_dir, lambda accounts: accounts.set_member_role(org, user, role))
    console.print(f"{escape(user)} is now {escape(role)} of {escape(org)}.", highlight=False)


@member_app.command("remove")
def org_member_remove(org: str, user: str, data_dir: DataDir = None) -> None:
    """Take a user out of an organisation and every team of it (never the last owner)."""
    with_accounts(data_dir, lambda accounts: accounts.remove_member(org, user))
    console.print(f"Removed {escape(user)} from {escape(org)}.", highlight=False)


@team_app.command("delete")
def team_delete(org: str, team: str, data_dir: DataDir = None) -> None:
    """Delete a team with its permissions; its members stay in the organisation."""
    with_accounts(data_dir, lambda accounts: accounts.delete_team(org, team))
    console.print(f"Deleted team {escape(org)}/{escape(team)}.", highlight=False)


@collaborator_app.command("list")
def collaborator_list(
    repository: Annotated[str, typer.Argument(help="USER/NAME")], data_dir: DataDir = None
) -> None:
    """List a repository's collaborators and their permissions."""
    found: list[Collaborator] = with_accounts(
        data_dir, lambda accounts: accounts.list_collaborators(repository)
    )
    table = Table("Collaborator", "Permission", "Added (UTC)")
    for collaborator in found:
        table.add_row(escape(collaborator.username), collaborator.permission, _when(collaborator.added_at))
    out.print(table)


@collaborator_app.command("add")
def collaborator_add(
    repository: Annotated[str, typer.Argument(help="USER/NAME, a personal repository")],
    user: str,
    permission: Permission = "write",
    data_dir: DataDir = None,
) -> None:
    """Give a user read, write or admin on a personal repository (or change what they hold)."""
    found = with_accounts(data_dir, lambda accounts: accounts.set_collaborator(repository, user, permission))
    console.print(
        f"{escape(user)} has [bold]{found.permission}[/bold] on {escape(found.repository)}.", highlight=False
    )


@collaborator_app.command("remove")
def collaborator_remove(repository: str, user: str, data_dir: DataDir = None) -> None:
    """Take a collaborator's permission on a repository away."""
    with_accounts(data_dir, lambda accounts: accounts.remove_collaborator(repository, user))
    console.print(f"{escape(user)} no longer collaborates on {escape(repository)}.", highlight=False)
