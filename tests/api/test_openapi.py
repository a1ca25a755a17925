"""The API against its own OpenAPI document, with schemathesis: generated requests (as a logged-in
user, on a server of their own so deletions cannot disturb the other tests) never get a 5xx, and
every answer matches the document: status codes, content types, bodies, headers (issue 9, item 6).

Every documented operation is fuzzed, the build endpoints (``/api/build/...``, HTTP Basic) among
them. The budget is fixed and the generation derandomized (``DOCKYARD_FUZZ_EXAMPLES`` examples
per operation and mode, 20 unless told; the registry's fuzz tests read the same setting, with
their own default).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from dockyard.web.api.app import ROUTERS
from tests.access.helpers import World, basic_header, threaded_world
from tests.api.helpers import Hub

EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "20"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with threaded_world(tmp_path_factory.mktemp("hub-openapi") / "data") as world:
        _populate(world)
        hub = Hub(world)
        yield hub
        hub.close()


def _populate(world: World) -> None:
    with world.batch() as batch:
        batch.user("alice")
        batch.user("bobby")
        batch.run("org", "create", "acmeorg", "--owner", "alice")
        batch.run("repo", "create", "alice/app", "--public", "--description", "an app")
        batch.run("repo", "create", "alice/hidden", "--private")
        # Organisations, groups and collaborators for the paths that name them (issue 14).
        batch.run("repo", "create", "acmeorg/app", "--private")  # so the organisation is not deleted
        batch.run("team", "create", "acmeorg", "devs")
        batch.run("team", "add-member", "acmeorg", "devs", "bobby")
        batch.run("team", "grant", "acmeorg", "devs", "acmeorg/app", "--permission", "read")
        batch.run("repo", "collaborator", "add", "alice/app", "bobby", "--permission", "write")


@pytest.fixture(scope="module")
def api_schema(fuzzed: Hub) -> Any:
    return schemathesis.openapi.from_url(f"{fuzzed.url}/v2/openapi.json")


# The documented operations, read from the routers so the test ids exist before any server does
# (as the document spells them: ``{name}`` where the route says ``{name:path}``).
OPERATIONS = sorted(
    (method, route.path_format)
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute) and route.include_in_schema
    for method in route.methods
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_conforms_to_its_openapi_document(
    fuzzed: Hub, api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    if path.startswith("/api/build/"):
        headers = {"Authorization": basic_header(*fuzzed.world.basic("alice"))}
    else:
        headers = {"Authorization": f"Bearer {fuzzed.login('alice')}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: Any) -> None:
        case.call_and_validate(base_url=fuzzed.url, headers=headers, checks=CHECKS)

    try:
        conforms()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing in the operation can be made invalid


def test_the_document_describes_the_api(fuzzed: Hub) -> None:
    document = httpx.get(f"{fuzzed.url}/v2/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    expected = {
        ("post", "/v2/users/login"),
        ("post", "/v2/auth/token"),
        ("get", "/v2/repositories/{namespace}/"),
        ("post", "/v2/repositories/"),
        ("post", "/v2/namespaces/{namespace}/repositories"),
        ("get", "/v2/repositories/{namespace}/{repository}/"),
        ("patch", "/v2/repositories/{namespace}/{repository}/"),
        ("delete", "/v2/repositories/{namespace}/{repository}/"),
        ("get", "/v2/repositories/{namespace}/{repository}/tags"),
        ("get", "/v2/repositories/{namespace}/{repository}/tags/{tag}"),
        ("delete", "/v2/repositories/{namespace}/{repository}/tags/{tag}"),
        ("get", "/v2/search/repositories"),
        ("get", "/v2/access-tokens"),
        ("post", "/v2/access-tokens"),
        ("get", "/v2/access-tokens/{uuid}"),
        ("patch", "/v2/access-tokens/{uuid}"),
        ("delete", "/v2/access-tokens/{uuid}"),
        ("post", "/v2/repositories/{namespace}/{repository}/stars"),
        ("get", "/v1/_ping"),
        ("get", "/v1/search"),
        # Today's Docker Hub paths, organisations, groups and collaborators (issue 14).
        ("get", "/v2/namespaces/{namespace}/repositories"),
        ("get", "/v2/namespaces/{namespace}/repositories/{repository}"),
        ("head", "/v2/namespaces/{namespace}/repositories/{repository}"),
        ("get", "/v2/namespaces/{namespace}/repositories/{repository}/tags"),
        ("get", "/v2/namespaces/{namespace}/repositories/{repository}/tags/{tag}"),
        ("head", "/v2/namespaces/{namespace}/repositories/{repository}/tags/{tag}"),
        ("post", "/v2/orgs/"),
        ("get", "/v2/user/orgs/"),
        ("delete", "/v2/orgs/{orgname}/"),
        ("get", "/v2/orgs/{orgname}/settings"),
        ("patch", "/v2/orgs/{orgname}/settings"),
        ("get", "/v2/orgs/{orgname}/members"),
        ("put", "/v2/orgs/{orgname}/members/{username}"),
        ("delete", "/v2/orgs/{orgname}/members/{username}"),
        ("post", "/v2/invites/bulk"),
        ("get", "/v2/orgs/{orgname}/groups"),
        ("post", "/v2/orgs/{orgname}/groups"),
        ("get", "/v2/orgs/{orgname}/groups/{group_name}"),
        ("patch", "/v2/orgs/{orgname}/groups/{group_name}"),
        ("delete", "/v2/orgs/{orgname}/groups/{group_name}"),
        ("get", "/v2/orgs/{orgname}/groups/{group_name}/members"),
        ("post", "/v2/orgs/{orgname}/groups/{group_name}/members"),
        ("delete", "/v2/orgs/{orgname}/groups/{group_name}/members/{username}"),
        ("get", "/v2/repositories/{namespace}/{repository}/groups"),
        ("post", "/v2/repositories/{namespace}/{repository}/groups"),
        ("delete", "/v2/repositories/{namespace}/{repository}/groups/{group_id}"),
        ("get", "/v2/repositories/{namespace}/{repository}/collaborators"),
        ("post", "/v2/repositories/{namespace}/{repository}/collaborators"),
        ("get", "/v2/repositories/{namespace}/{repository}/collaborators/{username}"),
        ("put", "/v2/repositories/{namespace}/{repository}/collaborators/{username}"),
        ("delete", "/v2/repositories/{namespace}/{repository}/collaborators/{username}"),
        # The build endpoints (issue 10, item 6), at the paths they always had.
        ("post", "/api/build/hooks/{link_id}/github"),
        ("post", "/api/build/hooks/{link_id}/gitlab"),
        ("post", "/api/build/trigger/{link_id}/{token}"),
        ("get", "/api/build/repositories/{name}/builds"),
        ("get", "/api/build/repositories/{name}/link"),
        ("put", "/api/build/repositories/{name}/link"),
        ("delete", "/api/build/repositories/{name}/link"),
        ("post", "/api/build/repositories/{name}/trigger"),
        ("get", "/api/build/builds/{build_id}"),
        ("get", "/api/build/builds/{build_id}/log"),
        ("get", "/api/build/builds/{build_id}/stream"),
        ("post", "/api/build/builds/{build_id}/cancel"),
        ("post", "/api/build/builds/{build_id}/retry"),
        ("get", "/api/build/badge/{name}.svg"),
    }
    documented = {(method, path) for path, operations in paths.items() for method in operations}
    assert expected <= documented
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)  # bad input is 400 here
            response = httpx.request(method.upper(), f"{fuzzed.url}{_concrete(path)}")
            assert response.status_code not in (404, 405) or (
                method == "head" or response.json().get("message") not in ("Not found.", "Method Not Allowed")
            ), f"{method.upper()} {path} is documented but not routed"


def _concrete(path: str) -> str:
    values = {"namespace": "alice", "repository": "app", "tag": "latest", "uuid": "x", "username": "alice"}
    values |= {"orgname": "acmeorg", "webhook_id": "1", "group_name": "devs", "group_id": "2"}
    values |= {"name": "alice/app", "link_id": "1", "build_id": "1", "token": "x"}
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    return path
