"""Logging in on a full disk (issue 9, item 7): the data folder on a small tmpfs, filled to the
last byte, and the database's write-ahead log grown until it cannot grow any more.

A login writes bookkeeping only (the account's last login, a token's last use, a rehashed
password). Before, that write failed with SQLite's "database or disk is full" and the login
answered 500: on a full disk nobody could get a token, not even to pull or to delete what would
make room. Now the write is skipped with a warning and the login goes through, at every door.
Mounting needs root; elsewhere this skips, and under CI=true it fails instead.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from tests.access.helpers import World, request_token
from tests.conftest import DockyardServer
from tests.registry.helpers import OCI_MANIFEST, Image, assert_no_unhandled_errors, push_image
from tests.security.test_registry_disk_full import (  # the tmpfs fixture and its helpers
    ENV,
    assert_full,
    big_manifest,
    disk,  # noqa: F401
    fill,
)


def grow_the_database_log_until_full(client: httpx.Client, repository: str, image: Image) -> None:
    """Manifests fit in SQLite's write-ahead log until it cannot grow; then every write fails."""
    for index in range(60):
        response = client.put(
            f"/v2/{repository}/manifests/m{index}",
            content=big_manifest(image, 100_000),
            headers={"Content-Type": OCI_MANIFEST},
        )
        if response.status_code != 201:
            assert_full(response)
            return
    raise AssertionError("the disk never filled")


def test_logins_go_through_on_a_full_disk(disk: Path) -> None:  # noqa: F811
    """Defends against a full disk locking every account out (a 500 from /token and the API login)."""
    server = DockyardServer(
        disk / "data", log_path=disk.parent / "server.log", env={"DOCKYARD_AUTH": "token", **ENV}
    )
    with server, contextlib.closing(World(server)) as world:
        with world.batch() as batch:
            batch.user("alice")
            batch.user("bobby")  # never logged in: the first login writes last_login_at
            batch.user("carol")
            batch.pat("carols", "carol", "repo:read")  # never used: the first use writes last_used_at
        token = world.token("repository:alice/app:pull,push", user="alice")
        with world.client(token) as client:
            image = push_image(client, "alice/app", "v1")
            fill(disk)
            grow_the_database_log_until_full(client, "alice/app", image)

        password = request_token(server, ["repository:alice/app:pull"], auth=world.basic("bobby"))
        assert password.status_code == 200, password.text
        pat = request_token(server, ["repository:alice/app:pull"], auth=("carol", world.pats["carols"]))
        assert pat.status_code == 200, pat.text
        api = httpx.post(
            f"{server.url}/v2/users/login",
            json={"username": "bobby", "password": world.passwords["bobby"]},
            timeout=30,
        )
        assert api.status_code == 200, api.text
        assert api.json()["token"]
        # What the logins are for still works: alice pulls with a token issued on the full disk.
        pulled = world.token("repository:alice/app:pull", user="alice")
        with world.client(pulled) as client:
            pull = client.get("/v2/alice/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
            assert pull.status_code == 200
        (disk / "filler").unlink()

    assert_no_unhandled_errors(server)
    assert "a login's bookkeeping (last use, rehash) was not written" in server.log_tail(10**7)
