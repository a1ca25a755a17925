"""One owner per table (issue 10): a package reads and writes only its own tables; what it needs of
another package's goes through that package's read models and services (records out), never
through the other package's ``Table`` handles or mapped classes.

The check reads the source (no import): every mapped class (``__tablename__``) has an owner, the
package that declares it, or for ``db/models.py`` (which declares the registry's and the accounts'
tables) the owner ``DB_OWNERS`` names. A table handle is a module-level name bound to
``<Model>.__table__``, or imported from a module where it is one (so re-exports are followed). A
module of package P that imports, binds or uses (``module.name``) a handle or mapped class owned by
another package breaks the rule. ``dockyard.migrations`` (Alembic knows every table) and
``dockyard.db`` (where the tables are declared) are exempt.

``KNOWN`` lists what breaks it today outside the packages that issue 10's read-model work changed;
the test fails when the list grows and when an entry is fixed (take it off the list).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "dockyard"
EXEMPT = {"migrations", "db"}

# The tables declared in db/models.py, by class: which package owns each.
DB_OWNERS = {
    "Repository": "registry",
    "Blob": "registry",
    "RepositoryBlob": "registry",
    "Manifest": "registry",
    "ManifestReference": "registry",
    "Tag": "registry",
    "UploadSession": "registry",
    "Namespace": "accounts",
    "User": "accounts",
    "Organization": "accounts",
    "OrganizationMember": "accounts",
    "Team": "accounts",
    "TeamMember": "accounts",
    "TeamPermission": "accounts",
    "RepositoryCollaborator": "accounts",
    "AccessToken": "accounts",
    "AuditEvent": "accounts",
    "RateLimitHit": "accounts",
    "RateCounter": "auth",  # the login throttle and pull limits (auth/counters.py)
}

# (module, table): why it is still there. Nothing today: every package keeps to its own tables.
KNOWN: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, slots=True)
class Breach:
    module: str
    table: str
    owner: str
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} uses {self.table} (owned by dockyard.{self.owner})"


@functools.cache
def _sources(root: Path) -> dict[str, tuple[Path, str, ast.Module]]:
    """Each module of the package by dotted name: its path, source and tree (parsed once)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        source = path.read_text()
        found[name] = (path, source, ast.parse(source, str(path)))
    return found


def _modules(root: Path, extra: dict[str, str]) -> Iterator[tuple[str, ast.Module]]:
    for name, (path, source, tree) in _sources(root).items():
        yield name, ast.parse(source + extra[name], str(path)) if name in extra else tree


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""  # "" for top-level modules: they own no table


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
    return ".".join([*base, *([node.module] if node.module else [])])


class Ownership:
    """Mapped classes, table handles and module aliases of the whole package, read from source."""

    def __init__(self, root: Path, extra: dict[str, str] | None = None) -> None:
        """``extra``: source appended to a module (by dotted name), for the test that it can fail."""
        self.trees = dict(_modules(root, extra or {}))
        self.aliases = {module: _aliases(module, tree) for module, tree in self.trees.items()}
        self.models: dict[tuple[str, str], tuple[str, str]] = {}  # (module, class) -> (table, owner)
        for module, tree in self.trees.items():
            for node in tree.body:
                table = _tablename(node)
                if isinstance(node, ast.ClassDef) and table is not None:
                    declared_in_db = module == "dockyard.db.models"
                    owner = DB_OWNERS.get(node.name, "?") if declared_in_db else _package(module)
                    self.models[(module, node.name)] = (table, owner)
        self.handles: dict[tuple[str, str], tuple[str, str]] = {}  # (module, name) -> (table, owner)
        self._find_handles()

    def _find_handles(self) -> None:
        changed = True
        while changed:  # follow re-exports until nothing new is found
            changed = False
            for module, tree in self.trees.items():
                for name, found in self._bound(module, tree):
                    if (module, name) not in self.handles:
                        self.handles[(module, name)] = found
                        changed = True

    def _bound(self, module: str, tree: ast.Module) -> Iterator[tuple[str, tuple[str, str]]]:
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                for alias in node.names:
                    found = self.handles.get((source, alias.name)) or self.models.get((source, alias.name))
                    if found is not None:
                        yield alias.asname or alias.name, found
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found = self._table_in(module, tree, node.value)
                if found is not None:
                    for target in targets:
                        if isinstance(target, ast.Name):
                            yield target.id, found

    def _table_in(self, module: str, tree: ast.Module, value: ast.expr | None) -> tuple[str, str] | None:
        """``X.__table__`` anywhere in the value, X a mapped class (by name or ``module.X``)."""
        for node in ast.walk(value) if value is not None else ():
            if isinstance(node, ast.Attribute) and node.attr == "__table__":
                found = self._model_of(module, tree, node.value)
                if found is not None:
                    return found
        return None

    def _model_of(self, module: str, tree: ast.Module, node: ast.expr) -> tuple[str, str] | None:
        if isinstance(node, ast.Name):
            local = self.models.get((module, node.id))
            return local or self.handles.get((module, node.id))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            source = self.aliases[module].get(node.value.id)
            if source is not None:
                return self.models.get((source, node.attr)) or self.handles.get((source, node.attr))
        return None

    def breaches(self) -> list[Breach]:
        found: set[Breach] = set()
        for module, tree in self.trees.items():
            package = _package(module)
            if package in EXEMPT:
                continue
            aliases = self.aliases[module]
            for node in ast.walk(tree):
                used = self._used(module, node, aliases)
                if used is not None and used[1] != package:
                    found.add(Breach(module, used[0], used[1], getattr(node, "lineno", 0)))
        first: dict[tuple[str, str], Breach] = {}
        for breach in sorted(found, key=lambda b: (b.module, b.table, b.line)):
            first.setdefault((breach.module, breach.table), breach)
        return list(first.values())

    def _used(self, module: str, node: ast.AST, aliases: dict[str, str]) -> tuple[str, str] | None:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                found = self.handles.get((source, alias.name)) or self.models.get((source, alias.name))
                if found is not None:
                    return found
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            held = aliases.get(node.value.id)
            if held is not None:
                return self.handles.get((held, node.attr)) or self.models.get((held, node.attr))
        if isinstance(node, ast.Name):
            return self.handles.get((module, node.id))  # a handle bound here: by assignment too
        return None


def _tablename(node: ast.stmt) -> str | None:
    if not isinstance(node, ast.ClassDef):
        return None
    for item in node.body:
        named = isinstance(item, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__tablename__" for t in item.targets
        )
        if named and isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
            return str(item.value.value)
    return None


def _aliases(module: str, tree: ast.Module) -> dict[str, str]:
    """Local names bound to modules of the package: ``from dockyard.db import models``, ``import x as y``."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dockyard") and alias.asname:
                    found[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            if source.startswith("dockyard"):
                for alias in node.names:
                    found.setdefault(alias.asname or alias.name, f"{source}.{alias.name}")
    return found


@pytest.fixture(scope="module")
def ownership() -> Ownership:
    return Ownership(PACKAGE)


def test_every_table_has_an_owner(ownership: Ownership) -> None:
    orphans = [cls for (module, cls), (_, owner) in ownership.models.items() if owner == "?"]
    assert not orphans, f"give these db/models.py tables an owner in DB_OWNERS: {orphans}"
    tables = {table for table, _ in ownership.models.values()}
    assert {"repositories", "users", "stars", "web_sessions", "webhooks"} <= tables


def test_no_package_uses_another_packages_tables(ownership: Ownership) -> None:
    breaches = ownership.breaches()
    unexpected = [str(b) for b in breaches if (b.module, b.table) not in KNOWN]
    assert not unexpected, "use the owner's read model instead:\n" + "\n".join(unexpected)
    fixed = set(KNOWN) - {(b.module, b.table) for b in breaches}
    assert not fixed, f"fixed: take these off KNOWN: {sorted(fixed)}"


@pytest.mark.parametrize(
    "bad",
    [
        "from dockyard.registry.store import repositories as _r  # noqa\n",  # a handle
        "from dockyard.db.models import User as _U  # noqa\n",  # a mapped class
        "from dockyard.db import models as _m\n_t = _m.Tag.__table__  # noqa\n",  # through a module
        "from dockyard.registry import catalog as _c\n_x = _c.repositories  # noqa\n",  # a re-export
    ],
)
def test_a_hub_module_using_a_registry_table_breaks_it(bad: str) -> None:
    """The same source with one deliberate bad line appended to hub/listing.py (not in the code)."""
    checked = Ownership(PACKAGE, {"dockyard.hub.listing": "\n" + bad})
    breaches = [str(b) for b in checked.breaches() if b.module == "dockyard.hub.listing"]
    assert len(breaches) == 1, breaches
    assert "owned by dockyard." in breaches[0]
