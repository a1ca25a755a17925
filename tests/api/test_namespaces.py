"""Docker Hub's current paths (/v2/namespaces/...) beside the older ones: the same shapes, the name
filter and Django-style ordering, HEAD checks, tags with ``creator`` and ``last_updater``, and
``tag_last_pulled`` kept per tag rather than per digest."""

from __future__ import annotations

import httpx

from tests.api.helpers import IMAGE, PAGE, REPOSITORY, REPOSITORY_SUMMARY, TAG, Hub, assert_typed, eventually
from tests.api.test_orgs import assert_error

CURRENT_TAG = {**TAG, "creator": (int, type(None)), "last_updater": (int, type(None))}
CURRENT_REPOSITORY = {**REPOSITORY, "immutable_tags_settings": dict}


def test_listing_filter_and_ordering(hub: Hub, unique: str) -> None:
    api = hub.api("carol")
    for name in (f"b-{unique}", f"a-{unique}", f"c-{unique}-x"):
        assert api.post("/v2/namespaces/carol/repositories", json={"name": name}).status_code == 201
    listed = hub.api().get("/v2/namespaces/carol/repositories", params={"name": unique, "ordering": "name"})
    assert listed.status_code == 200
    assert_typed(listed.json(), PAGE)
    for item in listed.json()["results"]:
        assert_typed(item, REPOSITORY_SUMMARY)
    assert [r["name"] for r in listed.json()["results"]] == [f"a-{unique}", f"b-{unique}", f"c-{unique}-x"]
    backwards = hub.api().get(
        "/v2/namespaces/carol/repositories", params={"name": unique, "ordering": "-name"}
    )
    assert [r["name"] for r in backwards.json()["results"]] == [f"c-{unique}-x", f"b-{unique}", f"a-{unique}"]
    newest = hub.api().get("/v2/namespaces/carol/repositories", params={"name": unique})  # -last_updated
    assert [r["name"] for r in newest.json()["results"]] == [f"c-{unique}-x", f"a-{unique}", f"b-{unique}"]
    oldest = hub.api().get(
        "/v2/namespaces/carol/repositories", params={"name": unique, "ordering": "last_updated"}
    )
    assert [r["name"] for r in oldest.json()["results"]] == [f"b-{unique}", f"a-{unique}", f"c-{unique}-x"]
    only = hub.api().get("/v2/namespaces/carol/repositories", params={"name": f"{unique}-x"})
    assert only.json()["count"] == 1
    assert_error(hub.api().get("/v2/namespaces/nosuchuser/repositories"), 404, "no user or organisation")


def test_repository_and_head(hub: Hub, unique: str) -> None:
    name = f"app-{unique}"
    hub.api("carol").post("/v2/namespaces/carol/repositories", json={"name": name, "is_private": True})
    current = hub.api("carol").get(f"/v2/namespaces/carol/repositories/{name}")
    assert current.status_code == 200
    assert_typed(current.json(), CURRENT_REPOSITORY)
    assert current.json()["immutable_tags_settings"] == {"enabled": False, "rules": []}
    older = hub.api("carol").get(f"/v2/repositories/carol/{name}/").json()
    assert {k: v for k, v in older.items()} == current.json()
    assert hub.api("carol").head(f"/v2/namespaces/carol/repositories/{name}").status_code == 200
    # Private: 404 to others, exactly as a missing one, HEAD and GET alike.
    assert hub.api("bobby").head(f"/v2/namespaces/carol/repositories/{name}").status_code == 404
    assert hub.api().head(f"/v2/namespaces/carol/repositories/missing-{unique}").status_code == 404
    missing = hub.api("bobby").get(f"/v2/namespaces/carol/repositories/{name}")
    assert_error(missing, 404, "not found", {"namespace": "carol", "repository": name})


def test_tags_with_creator_and_last_updater(hub: Hub, unique: str) -> None:
    repository = f"danny/tags-{unique}"
    hub.api("danny").post("/v2/repositories/", json={"namespace": "danny", "name": f"tags-{unique}"})
    hub.api("danny").post(f"/v2/repositories/{repository}/collaborators", json={"user": "erica"})
    hub.push_image("danny", repository, "shared")
    hub.push_image("danny", repository, "own")
    hub.push_image("erica", repository, "shared")  # a write collaborator pushes over danny's tag
    path = f"/v2/namespaces/{repository.replace('/', '/repositories/')}/tags"

    def pushed_by_erica() -> dict[str, dict[str, object]] | None:
        found = {t["name"]: t for t in hub.api("danny").get(path).json()["results"]}
        return found if found.get("shared", {}).get("last_updater_username") == "erica" else None

    tags = eventually(pushed_by_erica)
    for tag in tags.values():
        assert_typed(tag, CURRENT_TAG)
        for image in tag["images"]:  # type: ignore[attr-defined]
            assert_typed(image, IMAGE)
    danny = tags["own"]["creator"]
    assert isinstance(danny, int) and tags["own"]["last_updater"] == danny
    assert tags["shared"]["creator"] == danny
    assert tags["shared"]["last_updater"] not in (None, danny)
    one = hub.api("danny").get(f"{path}/shared")
    assert one.status_code == 200 and one.json() == tags["shared"]
    assert hub.api("danny").get(f"/v2/repositories/{repository}/tags/shared").json() == tags["shared"]
    assert hub.api("danny").head(f"{path}/shared").status_code == 200
    assert hub.api("danny").head(f"{path}/nope").status_code == 404
    assert_error(hub.api("danny").get(f"{path}/nope"), 404, "not found")


def test_tag_last_pulled_is_per_tag(hub: Hub, unique: str) -> None:
    repository = f"alice/pulls-{unique}"
    first = hub.push_image("alice", repository, "a", layer=b"same layer")
    second = hub.push_image("alice", repository, "b", layer=b"same layer")
    assert first.digest == second.digest  # two tags, one image
    token = hub.world.token(f"repository:{repository}:pull", user="alice")
    pulled = httpx.get(
        f"{hub.url}/v2/{repository}/manifests/a",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert pulled.status_code == 200
    path = f"/v2/namespaces/alice/repositories/pulls-{unique}/tags"

    def pulled_a() -> dict[str, dict[str, object]] | None:
        found = {t["name"]: t for t in hub.api("alice").get(path).json()["results"]}
        return found if found["a"]["tag_last_pulled"] else None

    tags = eventually(pulled_a)
    assert tags["b"]["tag_last_pulled"] is None  # pulled by a's name only
    assert tags["b"]["images"][0]["last_pulled"] is not None  # type: ignore[index]  # the image was pulled
