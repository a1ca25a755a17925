"""Tags through the API: platforms, sizes, who pushed, ordering, one tag, deletion."""

from __future__ import annotations

import httpx

from tests.api.conftest import ORG_PRIVATE
from tests.api.helpers import IMAGE, PAGE, TAG, Hub, assert_typed, eventually


def tags_of(hub: Hub, repository: str, user: str | None = "alice", **params: object) -> dict[str, object]:
    response = hub.api(user).get(f"/v2/repositories/{repository}/tags", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_single_and_multi_platform_tags(hub: Hub, unique: str) -> None:
    repository = f"alice/tags-{unique}"
    single = hub.push_image("alice", repository, "single", architecture="arm64", variant="v8")
    index, images = hub.push_index(
        "alice", repository, "multi", [("linux", "amd64", None), ("linux", "arm", "v7")]
    )
    body = tags_of(hub, repository, ordering="name")
    assert_typed(body, PAGE)
    assert body["count"] == 2
    results = body["results"]
    assert isinstance(results, list)
    for tag in results:
        assert_typed(tag, TAG)
        for image in tag["images"]:
            assert_typed(image, IMAGE)
    multi, one = results
    assert one["name"] == "single" and one["digest"] == single.digest
    assert one["full_size"] == single.size and one["v2"] is True
    assert one["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert [(i["os"], i["architecture"], i["variant"]) for i in one["images"]] == [("linux", "arm64", "v8")]
    assert one["images"][0]["digest"] == single.digest and one["images"][0]["size"] == single.size
    assert multi["name"] == "multi" and multi["digest"] == index
    assert multi["media_type"] == "application/vnd.oci.image.index.v1+json"
    platforms = [(i["os"], i["architecture"], i["variant"], i["digest"], i["size"]) for i in multi["images"]]
    assert platforms == [
        ("linux", "amd64", None, images[0].digest, images[0].size),
        ("linux", "arm", "v7", images[1].digest, images[1].size),
    ]
    assert multi["full_size"] == sum(i.size for i in images)


def test_pusher_and_pull_activity(hub: Hub, unique: str) -> None:
    repository = f"alice/activity-{unique}"
    image = hub.push_image("alice", repository, "latest")
    tag = eventually(lambda: _tag(hub, repository, "latest", "last_updater_username"))
    assert tag["last_updater_username"] == "alice"
    assert tag["tag_last_pushed"] is not None and tag["tag_last_pulled"] is None
    token = hub.world.token(f"repository:{repository}:pull", user="alice")
    pulled = httpx.get(
        f"{hub.url}/v2/{repository}/manifests/latest",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert pulled.status_code == 200 and pulled.headers["docker-content-digest"] == image.digest
    tag = eventually(lambda: _tag(hub, repository, "latest", "tag_last_pulled"))
    assert tag["images"][0]["last_pulled"] is not None
    detail = eventually(lambda: _pulled(hub, repository))
    assert detail["pull_count"] == 1


def _tag(hub: Hub, repository: str, name: str, field: str) -> dict[str, object] | None:
    body = hub.api("alice").get(f"/v2/repositories/{repository}/tags/{name}").json()
    return body if body.get(field) else None


def _pulled(hub: Hub, repository: str) -> dict[str, object] | None:
    body = hub.api("alice").get(f"/v2/repositories/{repository}/").json()
    return body if body["pull_count"] else None


def test_ordering_and_filter(hub: Hub, unique: str) -> None:
    repository = f"alice/order-{unique}"
    for name in ("b-old", "a-mid", "c-new"):
        hub.push_image("alice", repository, name)
    newest_first = [t["name"] for t in tags_of(hub, repository)["results"]]  # default: last_updated
    assert newest_first == ["c-new", "a-mid", "b-old"]
    oldest_first = [t["name"] for t in tags_of(hub, repository, ordering="-last_updated")["results"]]
    assert oldest_first == ["b-old", "a-mid", "c-new"]
    by_name = [t["name"] for t in tags_of(hub, repository, ordering="name")["results"]]
    assert by_name == ["a-mid", "b-old", "c-new"]
    assert [t["name"] for t in tags_of(hub, repository, name="new")["results"]] == ["c-new"]
    page = tags_of(hub, repository, page_size=1, page=2, ordering="name")
    assert [t["name"] for t in page["results"]] == ["b-old"]
    assert page["next"] and page["previous"]
    assert (
        hub.api("alice").get(f"/v2/repositories/{repository}/tags/", params={"page_size": 1}).status_code
        == 200
    )


def test_one_tag_and_missing_ones(hub: Hub, unique: str) -> None:
    repository = f"alice/one-{unique}"
    image = hub.push_image("alice", repository, "v1")
    found = hub.api().get(f"/v2/repositories/{repository}/tags/v1")
    assert found.status_code == 200
    assert_typed(found.json(), TAG)
    assert found.json()["digest"] == image.digest
    assert hub.api().get(f"/v2/repositories/{repository}/tags/v1/").status_code == 200
    assert hub.api().get(f"/v2/repositories/{repository}/tags/v2").status_code == 404
    assert hub.api().get(f"/v2/repositories/alice/never-{unique}/tags").status_code == 404


def test_private_tags_follow_the_repository(hub: Hub) -> None:
    hub.push_image("alice", ORG_PRIVATE, f"t{hub.url[-5:]}")
    assert hub.api("bobby").get(f"/v2/repositories/{ORG_PRIVATE}/tags").status_code == 200
    assert hub.api("carol").get(f"/v2/repositories/{ORG_PRIVATE}/tags").status_code == 404
    assert hub.api().get(f"/v2/repositories/{ORG_PRIVATE}/tags").status_code == 404


def test_delete_a_tag(hub: Hub, unique: str) -> None:
    repository = f"alice/untag-{unique}"
    image = hub.push_image("alice", repository, "doomed")
    hub.push_image("alice", repository, "kept")
    tag = f"/v2/repositories/{repository}/tags/doomed"
    assert hub.api().delete(tag).status_code == 401
    assert hub.api("carol").delete(tag).status_code == 403
    deleted = hub.api("alice").delete(tag)
    assert deleted.status_code == 204 and deleted.content == b""
    assert hub.api("alice").get(tag).status_code == 404
    assert hub.api("alice").delete(tag).status_code == 404
    assert [t["name"] for t in tags_of(hub, repository)["results"]] == ["kept"]
    token = hub.world.token(f"repository:{repository}:pull", user="alice")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"}
    assert httpx.get(f"{hub.url}/v2/{repository}/manifests/doomed", headers=headers).status_code == 404
    by_digest = httpx.get(f"{hub.url}/v2/{repository}/manifests/{image.digest}", headers=headers)
    assert by_digest.status_code == 200  # untagged, not deleted
