"""Scope parsing: the grammar in dockyard.auth.scopes."""

from __future__ import annotations

import pytest

from dockyard.auth.scopes import Scope, parse_scope, parse_scopes


def test_repository_scope() -> None:
    assert parse_scope("repository:alice/app:pull,push") == Scope(
        "repository", "alice/app", frozenset({"pull", "push"})
    )


def test_last_colon_separates_actions_and_first_the_type() -> None:
    scope = parse_scope("repository:a/b/c:delete")
    assert scope is not None and scope.name == "a/b/c" and scope.actions == {"delete"}


def test_resource_class_is_dropped() -> None:
    scope = parse_scope("repository(plugin):alice/app:pull")
    assert scope == Scope("repository", "alice/app", frozenset({"pull"}))


def test_catalog_scope() -> None:
    assert parse_scope("registry:catalog:*") == Scope("registry", "catalog", frozenset({"*"}))


@pytest.mark.parametrize(
    "item",
    [
        "repository:alice/app",  # no actions part
        "repository::pull",  # empty name
        "repository:Alice/App:pull",  # upper case
        "repository:alice/../x:pull",
        "repository:alice/%2e%2e:pull",
        "repository:аlice/app:pull",  # Cyrillic a
        "repository:host:5000/alice/app:pull",  # names never hold a colon
        "unknown:alice/app:pull",
        "registry:other:*",
        "",
        "pull",
    ],
)
def test_malformed_or_unknown_scopes_are_ignored(item: str) -> None:
    assert parse_scope(item) is None
    assert parse_scopes([item]) == []


def test_several_params_and_space_separated_scopes_merge() -> None:
    scopes = parse_scopes(
        [
            "repository:alice/app:pull repository:bobby/lib:pull",
            "repository:alice/app:push",
            "registry:catalog:*",
        ]
    )
    assert scopes == [
        Scope("repository", "alice/app", frozenset({"pull", "push"})),
        Scope("repository", "bobby/lib", frozenset({"pull"})),
        Scope("registry", "catalog", frozenset({"*"})),
    ]


def test_one_component_names_are_kept_as_written() -> None:
    assert parse_scopes(["repository:rockylinux:pull"])[0].name == "rockylinux"


def test_scope_count_is_bounded() -> None:
    many = " ".join(f"repository:u/r{i}:pull" for i in range(500))
    assert len(parse_scopes([many])) == 64


def test_str_round_trips() -> None:
    assert str(Scope("repository", "a/b", frozenset({"push", "pull"}))) == "repository:a/b:pull,push"
