"""Which scope each registry request needs: the guard's route table mirrors routes.py."""

from __future__ import annotations

import pytest

from dockyard.auth.guard import need_for


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v2/alice/app/manifests/latest", "repository:alice/app:pull"),
        ("HEAD", "/v2/alice/app/manifests/latest", "repository:alice/app:pull"),
        ("PUT", "/v2/alice/app/manifests/latest", "repository:alice/app:pull,push"),
        ("DELETE", "/v2/alice/app/manifests/sha256:ab", "repository:alice/app:delete"),
        ("GET", "/v2/alice/app/blobs/sha256:ab", "repository:alice/app:pull"),
        ("DELETE", "/v2/alice/app/blobs/sha256:ab", "repository:alice/app:delete"),
        ("POST", "/v2/alice/app/blobs/uploads/", "repository:alice/app:pull,push"),
        ("POST", "/v2/alice/app/blobs/uploads", "repository:alice/app:pull,push"),
        ("PATCH", "/v2/alice/app/blobs/uploads/u1", "repository:alice/app:pull,push"),
        ("PUT", "/v2/alice/app/blobs/uploads/u1", "repository:alice/app:pull,push"),
        ("GET", "/v2/alice/app/blobs/uploads/u1", "repository:alice/app:pull"),
        ("DELETE", "/v2/alice/app/blobs/uploads/u1", "repository:alice/app:pull,push"),
        ("GET", "/v2/a/b/c/tags/list", "repository:a/b/c:pull"),
        ("GET", "/v2/rockylinux/referrers/sha256:ab", "repository:rockylinux:pull"),
        ("GET", "/v2/_catalog", "registry:catalog:*"),
        # greedy names, as Starlette's {name:path} matches them
        ("GET", "/v2/a/manifests/manifests/x", "repository:a/manifests:pull"),
    ],
)
def test_needed_scope(method: str, path: str, scope: str) -> None:
    need = need_for(method, path)
    assert need is not None and need.scope == scope


def test_canonical_name_of_official_images() -> None:
    need = need_for("GET", "/v2/rockylinux/manifests/9")
    assert need is not None and need.canonical == "library/rockylinux" and need.name == "rockylinux"


@pytest.mark.parametrize("path", ["/v2/", "/v2", "/v2/nothing-here"])
def test_base_and_unknown_paths_need_only_a_token(path: str) -> None:
    assert need_for("GET", path) is None


def test_invalid_names_have_no_canonical_form() -> None:
    need = need_for("GET", "/v2/Alice/../x/manifests/1")
    assert need is not None and need.canonical is None
