"""Repository names: one value type, one grammar built from named parts, one error.

    name      := component ("/" component)*          at most 255 characters, ``library/`` included
    component := alnum+ (separator alnum+)*
    alnum     := [a-z0-9]
    separator := "." | "_" | "__" | "-"+
    namespace := the first component of the canonical name; path := the rest

A namespace that can hold repositories is narrower: at most 30 characters, single separators,

    namespace_name := alnum+ (("." | "_" | "-") alnum+)*

which covers every kind the namespaces table holds: users and organisations (the accounts narrow
theirs to Docker IDs, [a-z0-9]{4,30}), ``library``, and proxy namespaces (``hub``, ``quay-io``).
Looking a repository up accepts any namespace_name; creating one is the accounts' business.

A one-component name is an official image: ``nginx`` is ``library/nginx``. Nothing is normalised:
``Nginx``, a Cyrillic a or a fullwidth letter is invalid, never mapped onto another name. The
registry, the token server, the accounts and the hub all canonicalise through here; each adds its
own rules on top (the accounts: a namespace is a user or organisation name) and maps
``InvalidName`` onto its own error (the registry: NAME_INVALID).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALNUM = r"[a-z0-9]+"
SEPARATOR = r"(?:[._]|__|[-]+)"
COMPONENT = rf"{ALNUM}(?:{SEPARATOR}{ALNUM})*"
NAME = rf"{COMPONENT}(?:/{COMPONENT})*"
NAMESPACE = rf"{ALNUM}(?:[._-]{ALNUM})*"

NAME_RE = re.compile(NAME)
NAMESPACE_RE = re.compile(NAMESPACE)
MAX_NAME_LENGTH = 255
MAX_NAMESPACE_LENGTH = 30
OFFICIAL_NAMESPACE = "library"


class InvalidName(ValueError):
    """Not a repository name; ``str()`` says which rule it breaks."""

    def __init__(self, name: object, reason: str) -> None:
        super().__init__(f"{name!r} is not a valid repository name: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True, order=True)
class RepositoryName:
    """A canonical repository name: ``namespace/path``."""

    namespace: str
    path: str

    @classmethod
    def parse(cls, text: str) -> RepositoryName:
        if not isinstance(text, str) or len(text) > MAX_NAME_LENGTH or not NAME_RE.fullmatch(text):
            raise InvalidName(text, "lowercase letters, digits and separators, components split by /")
        namespace, slash, path = text.partition("/")
        if not slash:
            namespace, path = OFFICIAL_NAMESPACE, text
        name = cls(namespace, path)
        if len(str(name)) > MAX_NAME_LENGTH:
            raise InvalidName(text, f"at most {MAX_NAME_LENGTH} characters, {OFFICIAL_NAMESPACE}/ included")
        return name

    @property
    def official(self) -> bool:
        return self.namespace == OFFICIAL_NAMESPACE

    def __str__(self) -> str:
        return f"{self.namespace}/{self.path}"


def canonical(text: str) -> str:
    """``text`` as a canonical name (``nginx`` -> ``library/nginx``), or InvalidName."""
    return str(RepositoryName.parse(text))


def valid_namespace(text: str) -> bool:
    """Whether ``text`` can name a namespace (of any kind: see namespace_name above)."""
    return isinstance(text, str) and len(text) <= MAX_NAMESPACE_LENGTH and bool(NAMESPACE_RE.fullmatch(text))


def canonical_or_none(text: str) -> str | None:
    """The canonical name, or None when ``text`` is not a repository name."""
    try:
        return canonical(text)
    except InvalidName:
        return None


def namespace_of(canonical_name: str) -> str:
    """The namespace of a name already canonical (no parsing: the hot paths call this)."""
    return canonical_name.split("/", 1)[0]
