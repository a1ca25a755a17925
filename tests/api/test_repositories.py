"""Repositories through the API: listing, creation both ways, detail, changes, deletion, stars,
and privacy (a private repository is a 404 to whoever may not pull it)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.conftest import ORG, ORG_PRIVATE
from tests.api.helpers import (
    PAGE,
    REPOSITORY,
    REPOSITORY_SUMMARY,
    Hub,
    assert_typed,
    iter_pages,
)


def create(hub: Hub, user: str, namespace: str, name: str, **fields: object) -> dict[str, object]:
    response = hub.api(user).post("/v2/repositories/", json={"namespace": namespace, "name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_create_and_read_a_repository(hub: Hub, unique: str) -> None:
    body = create(hub, "alice", "alice", f"app-{unique}", description="An app", full_description="# App")
    assert_typed(body, REPOSITORY)
    assert body["name"] == f"app-{unique}" and body["namespace"] == "alice"
    assert body["description"] == "An app" and body["full_description"] == "# App"
    assert body["is_private"] is False
    assert body["repository_type"] == "image" and body["status"] == 1
    assert body["permissions"] == {"read": True, "write": True, "admin": True}

    again = hub.api().get(f"/v2/repositories/alice/app-{unique}/")
    assert again.status_code == 200
    assert_typed(again.json(), REPOSITORY)
    assert again.json()["permissions"] == {"read": True, "write": False, "admin": False}
    assert hub.api().get(f"/v2/repositories/alice/app-{unique}").status_code == 200  # no slash too


def test_create_in_a_namespace(hub: Hub, unique: str) -> None:
    response = hub.api("alice").post(
        f"/v2/namespaces/{ORG}/repositories", json={"name": f"svc-{unique}", "is_private": True}
    )
    assert response.status_code == 201, response.text
    assert response.json()["namespace"] == ORG and response.json()["is_private"] is True


def test_create_refusals(hub: Hub, unique: str) -> None:
    create(hub, "alice", "alice", f"dup-{unique}")
    api = hub.api("alice")
    duplicate = api.post("/v2/repositories/", json={"namespace": "alice", "name": f"dup-{unique}"})
    assert duplicate.status_code == 409
    elsewhere = hub.api("carol").post("/v2/repositories/", json={"namespace": "alice", "name": f"x-{unique}"})
    assert elsewhere.status_code == 403
    for bad in ("UPPER", "a/b", "-dash", "", "x" * 300):
        response = api.post("/v2/repositories/", json={"namespace": "alice", "name": bad})
        assert response.status_code == 400, (bad, response.text)
        assert isinstance(response.json()["detail"], str)
    too_long = api.post(
        "/v2/repositories/", json={"namespace": "alice", "name": "ok", "description": "d" * 101}
    )
    assert too_long.status_code == 400
    assert "description" in too_long.json()["errinfo"]
    unknown_field = api.post("/v2/repositories/", json={"namespace": "alice", "name": "ok2", "colour": 1})
    assert unknown_field.status_code == 400
    not_json = api.post("/v2/repositories/", content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400


def test_listing_shape_and_pagination(hub: Hub, unique: str) -> None:
    names = {f"list-{unique}-{i}" for i in range(3)}
    for name in names:
        create(hub, "bobby", "bobby", name)
    first = hub.api().get("/v2/repositories/bobby/", params={"page_size": 2, "ordering": "name"})
    assert first.status_code == 200
    body = first.json()
    assert_typed(body, PAGE)
    for result in body["results"]:
        assert_typed(result, REPOSITORY_SUMMARY)
    assert body["previous"] is None
    assert body["next"].startswith(f"{hub.url}/v2/repositories/bobby/?")
    query = parse_qs(urlsplit(body["next"]).query)
    assert query["page"] == ["2"] and query["page_size"] == ["2"] and query["ordering"] == ["name"]
    second = hub.api().get(body["next"]).json()
    assert second["previous"] is not None and parse_qs(urlsplit(second["previous"]).query)["page"] == ["1"]
    everything = [r["name"] for r in iter_pages(hub.api(), "/v2/repositories/bobby/", page_size=2)]
    assert names <= set(everything)
    assert len(everything) == body["count"]
    beyond = hub.api().get("/v2/repositories/bobby/", params={"page": 999})
    assert beyond.status_code == 404
    assert beyond.json()["message"] == beyond.json()["detail"] == "Invalid page."


def test_listing_an_unknown_namespace_is_404(hub: Hub) -> None:
    assert hub.api().get("/v2/repositories/nosuchspace/").status_code == 404


@pytest.mark.parametrize(
    "params", [{"page": 0}, {"page": "x"}, {"page_size": 0}, {"page_size": 101}, {"ordering": "bogus"}]
)
def test_bad_query_parameters_are_400(hub: Hub, params: dict[str, object]) -> None:
    response = hub.api().get("/v2/repositories/alice/", params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


def test_private_repositories_are_invisible_to_others(hub: Hub, unique: str) -> None:
    name = f"hidden-{unique}"
    create(hub, "alice", "alice", name, is_private=True, description=f"zzz{unique}")
    for viewer in (None, "bobby", "carol"):
        api = hub.api(viewer)
        assert api.get(f"/v2/repositories/alice/{name}/").status_code == 404
        assert api.get(f"/v2/repositories/alice/{name}/tags").status_code == 404
        listed = {r["name"] for r in iter_pages(api, "/v2/repositories/alice/", page_size=100)}
        assert name not in listed
        found = api.get("/v2/search/repositories", params={"query": f"zzz{unique}"}).json()
        assert found["count"] == 0
    missing = hub.api("carol").get(f"/v2/repositories/alice/never-{unique}/")
    hidden = hub.api("carol").get(f"/v2/repositories/alice/{name}/")
    assert missing.status_code == hidden.status_code == 404
    # Alike but for the name: the same fields, the same message and errinfo once the name is swapped.
    assert set(missing.json()) == set(hidden.json()) == {"message", "errinfo", "detail"}
    assert missing.text.replace(f"never-{unique}", name) == hidden.text
    for viewer in ("alice", "siteadmin"):
        assert hub.api(viewer).get(f"/v2/repositories/alice/{name}/").status_code == 200
        listed = {r["name"] for r in iter_pages(hub.api(viewer), "/v2/repositories/alice/", page_size=100)}
        assert name in listed


def test_team_read_permission_sees_but_cannot_change(hub: Hub) -> None:
    namespace, name = ORG_PRIVATE.split("/")
    path = f"/v2/repositories/{namespace}/{name}/"
    seen = hub.api("bobby").get(path)
    assert seen.status_code == 200
    assert seen.json()["permissions"] == {"read": True, "write": False, "admin": False}
    assert hub.api("bobby").patch(path, json={"description": "mine now"}).status_code == 403
    assert hub.api("bobby").delete(path).status_code == 403
    assert hub.api("carol").get(path).status_code == 404
    assert hub.api("carol").patch(path, json={"description": "x"}).status_code == 404


def test_update_descriptions_and_visibility(hub: Hub, unique: str) -> None:
    name = f"edit-{unique}"
    create(hub, "alice", "alice", name)
    path = f"/v2/repositories/alice/{name}/"
    api = hub.api("alice")
    changed = api.patch(path, json={"description": "short", "full_description": "long *text*"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "short" and changed.json()["full_description"] == "long *text*"
    private = api.patch(path, json={"is_private": True})
    assert private.json()["is_private"] is True and private.json()["description"] == "short"
    assert hub.api().get(path).status_code == 404
    assert api.patch(path, json={"is_private": False}).json()["is_private"] is False
    assert hub.api().get(path).status_code == 200
    assert api.patch(path, json={"description": "d" * 101}).status_code == 400
    assert api.patch(path, json={"is_private": "maybe"}).status_code == 400
    assert hub.api().patch(path, json={"description": "anon"}).status_code == 401


def test_delete_needs_admin_rights(hub: Hub, unique: str) -> None:
    name = f"gone-{unique}"
    create(hub, "alice", "alice", name)
    hub.push_image("alice", f"alice/{name}", "v1")
    path = f"/v2/repositories/alice/{name}/"
    assert hub.api("carol").delete(path).status_code == 403  # public: visible, but not hers
    assert hub.api().delete(path).status_code == 401
    deleted = hub.api("alice").delete(path)
    assert deleted.status_code == 202 and deleted.content == b""
    assert hub.api("alice").get(path).status_code == 404
    assert hub.api("alice").delete(path).status_code == 404


def test_stars(hub: Hub, unique: str) -> None:
    name = f"starry-{unique}"
    create(hub, "alice", "alice", name)
    stars = f"/v2/repositories/alice/{name}/stars"
    assert hub.api().post(stars).status_code == 401
    assert hub.api("bobby").post(stars).json() == {"starred": True, "star_count": 1}
    assert hub.api("bobby").post(stars).json() == {"starred": True, "star_count": 1}  # idempotent
    assert hub.api("carol").post(stars).json()["star_count"] == 2
    detail = hub.api("bobby").get(f"/v2/repositories/alice/{name}/").json()
    assert detail["star_count"] == 2 and detail["has_starred"] is True
    assert hub.api("carol").delete(stars).json() == {"starred": False, "star_count": 1}
    assert hub.api("carol").post(f"/v2/repositories/{ORG_PRIVATE}/stars").status_code == 404
