"""AccountService: users, organisations, teams, repositories' visibility, access tokens, audit log.

Every public method is one synchronous unit of database work run on a worker thread
(``@offload``), as in registry/store.py: reads on ``db.read``, writes in one ``db.write``
transaction (BEGIN IMMEDIATE on SQLite, so check-then-insert does not race). Password hashing
never happens inside a transaction. Methods return the frozen records of records.py and raise
the errors of errors.py. Changes to permissions, visibility and tokens write their audit event
in the same transaction as the change; login events are the caller's to record, since only the
caller knows the client's address and whether a request was a login.

The methods live with their domain, one part per module, composed here into the one service:

    users.py            Users             accounts, passwords, administrators, default visibility
    authentication.py   Authentication    password and token logins, refreshed principals
    organizations.py    Organizations     organisations, teams, team members, team permissions
    memberships.py      Memberships       who is in an organisation, as owner or member
    collaborators.py    Collaborators     users given a permission on a personal repository
    repositories.py     Repositories      repositories: creation, visibility, descriptions (the
                                          registry's rows, through registry/repository_rows.py)
    access.py           Access            the facts policy.py decides on; the catalog's SQL filter
    tokens.py           Tokens            personal access tokens
    limits.py           (functions)       sign-up and repository creation limits
    audit.py            AuditLog          the audit log, and write_event for every other part
    _queries.py         ServicePart       the accounts' tables, selects, rows to records, lookups
"""

from __future__ import annotations

from dockyard.accounts._queries import (  # the table handles stay importable from here
    events,
    members,
    namespaces,
    organizations,
    permissions,
    teams,
    tokens,
    users,
)
from dockyard.accounts.access import Access
from dockyard.accounts.audit import AuditLog
from dockyard.accounts.authentication import Authentication
from dockyard.accounts.collaborators import Collaborators
from dockyard.accounts.credentials import Passwords
from dockyard.accounts.limits import CreationLimits
from dockyard.accounts.memberships import Memberships
from dockyard.accounts.organizations import Organizations
from dockyard.accounts.repositories import Repositories
from dockyard.accounts.tokens import Tokens
from dockyard.accounts.users import Users
from dockyard.db.engine import Database

__all__ = [
    "AccountService",
    "events",
    "members",
    "namespaces",
    "organizations",
    "permissions",
    "teams",
    "tokens",
    "users",
]


class AccountService(
    Users,
    Authentication,
    Organizations,
    Memberships,
    Collaborators,
    Repositories,
    Access,
    Tokens,
    AuditLog,
):
    def __init__(
        self, database: Database, passwords: Passwords | None = None, limits: CreationLimits | None = None
    ) -> None:
        """``limits`` bound what people do for themselves (sign-ups, new repositories); without
        them (the command line), nothing is limited."""
        self.db = database
        self.passwords = passwords or Passwords()
        self.limits = limits or CreationLimits()
        self.inline_lookups = database.dialect == "sqlite"
