"""Access policy queries: the facts policy.py decides on, read from the database, and its pull
rule written as SQL so the catalog can be filtered (and paged) in the database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dockyard.accounts import _queries as q
from dockyard.accounts import names, policy
from dockyard.accounts._queries import (
    OWNERS,
    collaborators,
    members,
    namespaces,
    org_members,
    organizations,
    permissions,
    teams,
)
from dockyard.accounts.records import CatalogPage, Principal
from dockyard.db.engine import offload
from dockyard.proxy import readmodels as proxy_reads
from dockyard.registry import repository_rows


class Access(q.ServicePart):
    @offload
    def repository_actions(self, principal: Principal | None, repository: str) -> frozenset[str]:
        """The actions (subset of pull, push, delete) the caller holds on a canonical repository name.

        See policy.py for the table. A private repository without a grant and a missing one in
        someone else's namespace both give the empty set, so the registry answers alike."""
        with self.db.read.connect() as conn:
            facts = _facts(conn, principal, repository)
        return policy.repository_actions(principal, facts)

    @offload
    def readable_repositories(self, principal: Principal | None, repositories_: Iterable[str]) -> list[str]:
        """The given names the caller may pull, in the given order (for ``_catalog``)."""
        wanted = list(dict.fromkeys(repositories_))
        with self.db.read.connect() as conn:
            readable = repository_rows.names_within(conn, _readable(principal), wanted)
        return [name for name in wanted if name in readable]

    @offload
    def catalog(self, principal: Principal | None, limit: int | None, last: str | None) -> CatalogPage:
        """One page of the repositories the caller may pull, sorted bytewise, filtered in SQL so
        pages stay full."""
        with self.db.read.connect() as conn:
            page = repository_rows.name_page(conn, _readable(principal), limit, last)
        return CatalogPage(page.items, page.last)


def _facts(conn: Connection, principal: Principal | None, repository: str) -> policy.RepositoryFacts:
    facts = _account_facts(conn, principal, repository)
    if not facts.exists and proxy_reads.has_mirror(conn):
        return dataclasses.replace(facts, mirrored=True)  # the instance mirror answers it
    return facts


def _account_facts(conn: Connection, principal: Principal | None, repository: str) -> policy.RepositoryFacts:
    namespace = names.namespace_of(repository)
    repo = repository_rows.visibility(conn, repository)
    exists, is_private = repo is not None, repo.is_private if repo is not None else False
    proxy_private = proxy_reads.proxy_privacy(conn, namespace)
    if proxy_private is not None:
        return _proxy_facts(conn, principal, namespace, proxy_private)
    if principal is None or principal.is_admin:
        return policy.RepositoryFacts(exists=exists, is_private=is_private)
    if namespace == principal.username:
        return policy.RepositoryFacts(exists, is_private, namespace_is_caller=True)
    collaborator = _collaborator(conn, repo.id, principal.user_id) if repo is not None else None
    held = conn.execute(
        select(teams.c.id, teams.c.name)
        .select_from(members.join(teams).join(organizations).join(namespaces))
        .where(members.c.user_id == principal.user_id, namespaces.c.name == namespace)
    ).all()
    if any(team.name == OWNERS for team in held):
        return policy.RepositoryFacts(exists, is_private, org_owner=True, collaborator=collaborator)
    granted: frozenset[str] = frozenset()
    if repo is not None and held:
        granted = frozenset(
            conn.execute(
                select(permissions.c.permission).where(
                    permissions.c.repository_id == repo.id,
                    permissions.c.team_id.in_([team.id for team in held]),
                )
            ).scalars()
        )
    return policy.RepositoryFacts(exists, is_private, team_permissions=granted, collaborator=collaborator)


def _collaborator(conn: Connection, repo_id: int, user_id: int) -> str | None:
    """The user's permission as a collaborator on the repository, None when they are not one."""
    query = select(collaborators.c.permission).where(
        collaborators.c.repository_id == repo_id, collaborators.c.user_id == user_id
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def _proxy_facts(
    conn: Connection, principal: Principal | None, namespace: str, private: bool
) -> policy.RepositoryFacts:
    """A proxy namespace's repository: there (upstream) and public unless the proxy is private,
    when the members of the organisation of the same name may pull."""
    member = False
    if private and principal is not None and not principal.is_admin:
        found = conn.execute(
            select(org_members.c.user_id)
            .select_from(org_members.join(organizations).join(namespaces))
            .where(org_members.c.user_id == principal.user_id, namespaces.c.name == namespace)
        ).first()
        member = found is not None
    return policy.RepositoryFacts(exists=True, is_private=private, proxy=True, proxy_member=member)


def readable(principal: Principal | None) -> ColumnElement[bool]:
    """The pull rule as a condition on repositories, for listings that filter in the database."""
    return _readable(principal)


def _readable(principal: Principal | None) -> ColumnElement[bool]:
    """SQL for "the caller may pull this existing repository": the policy's pull rule, the
    caller's namespaces and grants as the terms of the registry's condition."""
    if principal is None:
        return repository_rows.public()
    scopes = principal.token_scopes
    if scopes is not None and scopes <= {"repo:public_read"}:
        return repository_rows.public()
    if principal.is_admin:
        return true()
    owned_orgs = (
        select(namespaces.c.name)
        .select_from(namespaces.join(organizations).join(teams).join(members))
        .where(teams.c.name == OWNERS, members.c.user_id == principal.user_id)
    )
    granted = (
        select(permissions.c.repository_id)
        .select_from(permissions.join(members, members.c.team_id == permissions.c.team_id))
        .where(members.c.user_id == principal.user_id)
    )
    shared = select(collaborators.c.repository_id).where(collaborators.c.user_id == principal.user_id)
    return repository_rows.visible(namespaces=(principal.username, owned_orgs), ids=(granted, shared))
