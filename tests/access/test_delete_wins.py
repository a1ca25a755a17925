"""A repository delete wins over pushes that began before it (issue 10).

A build that was running when its repository was deleted still holds the push token it was issued
at its start (builds/pushauth.py: valid as long as the build may take), and its worker stops only
at its next lease renewal. The registry guard refuses to create the repository again for a token
issued before the deletion (registry/tombstones.py), so the build's push fails and the repository
stays deleted; a token issued after the deletion (a new push, a new build) may create it.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from tests.access.helpers import error_codes, in_process_world
from tests.clock import FakeClock
from tests.inprocess import InProcessDockyard
from tests.registry.helpers import OCI_MANIFEST, push_image

SCOPE = "repository:alice/app:pull,push"


def test_a_push_token_from_before_a_delete_cannot_recreate_the_repository(
    tmp_path: Path, template_database: Path
) -> None:
    clock = FakeClock(time.time() - 60)  # the tokens' clock: issued a minute before the deletion
    with in_process_world(tmp_path / "data", template=template_database, clock=clock) as world:
        world.create_user("alice")
        running_build = world.token(SCOPE, user="alice")
        with world.client(running_build) as client:
            image = push_image(client, "alice/app", "v1")

        assert isinstance(world.server, InProcessDockyard)
        services = world.server.services
        assert anyio.run(services.registry.delete_repository, "alice/app", "alice")

        with world.client(running_build) as client:
            for method, path in (
                ("POST", "/v2/alice/app/blobs/uploads/"),
                ("PUT", "/v2/alice/app/manifests/v2"),
            ):
                refused = client.request(
                    method, path, content=image.manifest, headers={"Content-Type": OCI_MANIFEST}
                )
                assert refused.status_code == 403, (method, refused.status_code, refused.text)
                assert error_codes(refused) == ["DENIED"]
                assert "deleted after" in refused.text
            assert client.get("/v2/alice/app/tags/list").status_code == 404  # still deleted

        clock.advance(120)  # a token issued after the deletion: a new push may create it again
        with world.client(world.token(SCOPE, user="alice")) as client:
            push_image(client, "alice/app", "v1")
            assert client.get("/v2/alice/app/tags/list").json()["tags"] == ["v1"]
