"""Fuzzing the registry: no input makes it answer 5xx (issue 9, item 6).

hypothesis generates manifest PUTs (a valid manifest with one part replaced by any JSON value or
removed, or bytes that are barely JSON) and requests to every registry endpoint (any method,
names, references, upload ids, query parameters, ranges and bodies), against a real server,
open and with token auth. The budget is fixed and the generation derandomized, so a run takes
seconds and fails the same way every time; ``DOCKYARD_FUZZ_EXAMPLES`` raises the budget for a
longer hunt. Every answer must be below 500, and the server's log must hold no traceback.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.access.helpers import threaded_world
from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.registry.helpers import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    assert_no_unhandled_errors,
    descriptor,
    push_blob,
    sha256,
)

EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REPOSITORY = "fuzz/target"
SOURCE = "fuzz/source"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
LAYER = b"fuzz layer"


class Target:
    """A server, a client whose requests are allowed on the fuzzed repositories, and seed content."""

    def __init__(self, server: DockyardServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        for repository in (REPOSITORY, SOURCE):
            push_blob(client, repository, CONFIG)
            push_blob(client, repository, LAYER)
        self.image = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, CONFIG),
            "layers": [descriptor(OCI_LAYER, LAYER)],
            "annotations": {"a": "b"},
            "subject": descriptor(OCI_MANIFEST, b"{}"),
        }
        image_bytes = json.dumps(self.image).encode()
        put = client.put(
            f"/v2/{REPOSITORY}/manifests/base", content=image_bytes, headers={"Content-Type": OCI_MANIFEST}
        )
        assert put.status_code == 201, put.text
        self.index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(OCI_MANIFEST, image_bytes, platform={"os": "linux", "architecture": "x"})
            ],
        }

    def check(self, response: httpx.Response) -> None:
        assert response.status_code < 500, (
            response.request.method,
            str(response.request.url)[:300],
            response.status_code,
            response.text[:300],
        )

    def assert_clean_log(self) -> None:
        assert_no_unhandled_errors(self.server)


@pytest.fixture(scope="module")
def open_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = tmp_path_factory.mktemp("fuzz-open") / "data"
    with (
        DockyardServer(data, env=OPEN_REGISTRY) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        target = Target(server, client)
        yield target
        target.assert_clean_log()


@pytest.fixture(scope="module")
def token_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with threaded_world(tmp_path_factory.mktemp("fuzz-token") / "data") as world:
        world.create_user("fuzz")
        scopes = " ".join(f"repository:{r}:pull,push,delete" for r in (REPOSITORY, SOURCE))
        token = world.token(scopes, user="fuzz")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=world.server.url, headers=headers, timeout=30) as client:
            target = Target(world.server, client)
            yield target
            target.assert_clean_log()


# ----------------------------------------------------------------------------------------------------
# Manifests
# ----------------------------------------------------------------------------------------------------

SIZES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 9, 10, 11, 2**53, 2**62, 2**63 - 1, 2**63, 10**30, -1]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    SIZES,
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, sha256(LAYER), "sha256:", "a:b"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
CONTENT_TYPES = st.sampled_from(
    [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, "application/json", "text/plain", ""]
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths_of(child, (*prefix, index))
    return found


def mutated(document: dict[str, Any], path: tuple[Any, ...], replacement: Any, remove: bool) -> Any:
    if not path:
        return replacement
    result = copy.deepcopy(document)
    parent: Any = result
    for key in path[:-1]:
        parent = parent[key]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return result


@st.composite
def manifest_bodies(draw: st.DrawFn, image: dict[str, Any], index: dict[str, Any]) -> bytes:
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "deep", "bytes"]))
    if kind == "deep":
        depth = draw(st.integers(1, 60_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = "1" if opener != "[" else ""
        return f'{{"schemaVersion":2,"x":{opener * depth}{inner}{closer * depth}}}'.encode()
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    base = draw(st.sampled_from([image, index]))
    path = draw(st.sampled_from(paths_of(base)))
    document = mutated(base, path, draw(JSON_VALUES), remove=bool(path) and draw(st.booleans()))
    return json.dumps(document, allow_nan=True).encode()


@pytest.mark.parametrize("mode", ["open", "token"])
def test_no_manifest_put_answers_5xx(request: pytest.FixtureRequest, mode: str) -> None:
    target: Target = request.getfixturevalue(f"{mode}_target")

    @FUZZ
    @given(
        body=manifest_bodies(target.image, target.index),
        content_type=CONTENT_TYPES,
        reference=st.sampled_from(["fuzzed", "base", "sha256:" + "0" * 64, "BAD..tag"]),
        extra_tag=st.sampled_from([None, "also", "-bad"]),
    )
    def put(body: bytes, content_type: str, reference: str, extra_tag: str | None) -> None:
        params = {"tag": extra_tag} if extra_tag else {}
        headers = {"Content-Type": content_type} if content_type else {}
        response = target.client.put(
            f"/v2/{REPOSITORY}/manifests/{reference}", content=body, headers=headers, params=params
        )
        target.check(response)
        if response.status_code == 201:  # whatever was stored must read back, and list
            digest = response.headers["docker-content-digest"]
            target.check(target.client.get(f"/v2/{REPOSITORY}/manifests/{digest}"))
            target.check(target.client.get(f"/v2/{REPOSITORY}/referrers/{sha256(b'{}')}"))
            target.check(target.client.get(f"/v2/{REPOSITORY}/tags/list"))

    put()
    hub = httpx.get(f"{target.server.url}/v2/repositories/{REPOSITORY}/tags", timeout=30)
    target.check(hub)


# ----------------------------------------------------------------------------------------------------
# Every registry endpoint
# ----------------------------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
NAMES = st.one_of(
    st.sampled_from(
        [REPOSITORY, SOURCE, "fuzz", "library/fuzz", "Fuzz/Upper", "a" * 300, "fuzz//x", "fuzz/."]
    ),
    TEXT,
)
REFERENCES = st.one_of(
    st.sampled_from(
        ["base", "latest", sha256(LAYER), sha256(CONFIG), ".INVALID", "sha256:zz", "-x", "a" * 200]
    ),
    TEXT,
)
SUFFIXES = st.sampled_from(
    [
        "manifests/{ref}",
        "blobs/{ref}",
        "blobs/uploads/",
        "blobs/uploads/{upload}",
        "tags/list",
        "referrers/{ref}",
    ]
)
QUERY_KEYS = st.sampled_from(["n", "last", "digest", "mount", "from", "tag", "artifactType", "offline"])
QUERY_VALUES = st.one_of(
    st.sampled_from(["-5", "0", "abc", "99999999999999999999999", sha256(LAYER), SOURCE, "", "1.5"]), TEXT
)
HEADER_VALUES = st.one_of(
    st.sampled_from(["bytes=0-3", "0-3", "5-2", "bytes=-1", "0-99999999999999999999", "*/*", OCI_MANIFEST]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24).map(str.strip),
)
HEADER_NAMES = st.sampled_from(["Content-Range", "Range", "Accept", "Content-Type", "If-None-Match"])


def encoded(text: str, keep_slashes: bool) -> str:
    return quote(text, safe="/" if keep_slashes else "") or "x"


@st.composite
def requests(draw: st.DrawFn, target: Target) -> tuple[str, str, dict[str, str], dict[str, str], bytes]:
    method = draw(st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]))
    name = encoded(draw(NAMES), keep_slashes=True)
    upload = draw(st.sampled_from(["fresh", "random", "text"]))
    if upload == "fresh":
        started = target.client.post(f"/v2/{REPOSITORY}/blobs/uploads/")
        target.check(started)
        upload_id = started.headers.get("location", "/x").rsplit("/", 1)[-1]
    elif upload == "random":
        upload_id = str(uuid.uuid4())
    else:
        upload_id = encoded(draw(TEXT), keep_slashes=False)
    suffix = draw(SUFFIXES).format(ref=encoded(draw(REFERENCES), keep_slashes=False), upload=upload_id)
    path = draw(st.sampled_from([f"/v2/{name}/{suffix}", "/v2/_catalog", "/v2/", f"/v2/{name}"]))
    query = draw(st.dictionaries(QUERY_KEYS, QUERY_VALUES, max_size=3))
    headers = draw(st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3))
    body = draw(st.one_of(st.just(b""), st.just(LAYER), st.binary(max_size=48)))
    return method, path, query, headers, body


@pytest.mark.parametrize("mode", ["open", "token"])
def test_no_registry_request_answers_5xx(request: pytest.FixtureRequest, mode: str) -> None:
    target: Target = request.getfixturevalue(f"{mode}_target")

    @FUZZ
    @given(data=st.data())
    def send(data: st.DataObject) -> None:
        method, path, query, headers, body = data.draw(requests(target))
        content = body if method in ("PUT", "POST", "PATCH") else None
        response = target.client.request(method, path, params=query, headers=headers, content=content)
        target.check(response)

    send()
