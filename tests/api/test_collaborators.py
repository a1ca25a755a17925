"""Collaborators through the API: add, change, list, remove; a real ``collaborator_count``; what
each permission shows in ``permissions``; who may manage them; organisations refuse them."""

from __future__ import annotations

from tests.api.helpers import PAGE, Hub, assert_typed
from tests.api.test_orgs import assert_error, make_org


def _private(hub: Hub, owner: str, unique: str) -> str:
    name = f"shared-{unique}"
    response = hub.api(owner).post(
        "/v2/repositories/", json={"namespace": owner, "name": name, "is_private": True}
    )
    assert response.status_code == 201, response.text
    return f"{owner}/{name}"


def test_add_change_list_remove(hub: Hub, unique: str) -> None:
    repo = _private(hub, "danny", unique)
    api = hub.api("danny")
    assert api.get(f"/v2/repositories/{repo}/").json()["collaborator_count"] == 0
    added = api.post(f"/v2/repositories/{repo}/collaborators", json={"user": "erica", "permission": "read"})
    assert added.status_code == 201 and added.json() == {"user": "erica", "permission": "read"}
    assert (
        api.post(f"/v2/repositories/{repo}/collaborators", json={"user": "carol"}).json()["permission"]
        == "write"
    )
    listed = api.get(f"/v2/repositories/{repo}/collaborators")
    assert_typed(listed.json(), PAGE)
    assert listed.json()["results"] == [
        {"user": "carol", "permission": "write"},
        {"user": "erica", "permission": "read"},
    ]
    assert api.get(f"/v2/repositories/{repo}/").json()["collaborator_count"] == 2
    assert api.get(f"/v2/repositories/{repo}/collaborators/erica").json()["permission"] == "read"
    changed = api.put(f"/v2/repositories/{repo}/collaborators/erica", json={"permission": "admin"})
    assert changed.json() == {"user": "erica", "permission": "admin"}
    assert api.delete(f"/v2/repositories/{repo}/collaborators/carol").status_code == 204
    assert_error(api.get(f"/v2/repositories/{repo}/collaborators/carol"), 404, "not a collaborator")
    assert (
        api.get(f"/v2/namespaces/danny/repositories/{repo.split('/')[1]}").json()["collaborator_count"] == 1
    )


def test_what_each_permission_gives(hub: Hub, unique: str) -> None:
    repo = _private(hub, "danny", unique)
    api = hub.api("danny")
    assert hub.api("erica").get(f"/v2/repositories/{repo}/").status_code == 404
    expected = {
        "read": {"read": True, "write": False, "admin": False},
        "write": {"read": True, "write": True, "admin": False},
        "admin": {"read": True, "write": True, "admin": True},
    }
    for permission, shown in expected.items():
        api.put(f"/v2/repositories/{repo}/collaborators/erica", json={"permission": permission})
        seen = hub.api("erica").get(f"/v2/repositories/{repo}/")
        assert seen.status_code == 200 and seen.json()["permissions"] == shown, permission
        # The private repository is in erica's view of danny's namespace now.
        listed = hub.api("erica").get("/v2/namespaces/danny/repositories", params={"page_size": 100})
        assert repo.split("/")[1] in [r["name"] for r in listed.json()["results"]]
    # An admin collaborator manages collaborators and settings; a read one does not.
    assert (
        hub.api("erica").post(f"/v2/repositories/{repo}/collaborators", json={"user": "carol"}).status_code
        == 201
    )
    assert (
        hub.api("erica").patch(f"/v2/repositories/{repo}/", json={"description": "by erica"}).status_code
        == 200
    )
    api.put(f"/v2/repositories/{repo}/collaborators/erica", json={"permission": "read"})
    assert_error(hub.api("erica").get(f"/v2/repositories/{repo}/collaborators"), 403, "only administrators")
    assert hub.api("erica").delete(f"/v2/repositories/{repo}/").status_code == 403


def test_refusals(hub: Hub, unique: str) -> None:
    repo = _private(hub, "danny", unique)
    api = hub.api("danny")
    assert hub.api().get(f"/v2/repositories/{repo}/collaborators").status_code == 401
    assert_error(hub.api("bobby").get(f"/v2/repositories/{repo}/collaborators"), 404, "not found")
    assert_error(api.post(f"/v2/repositories/{repo}/collaborators", json={"user": "danny"}), 400, "owns")
    assert_error(
        api.post(f"/v2/repositories/{repo}/collaborators", json={"user": "nosuchuser"}), 404, "no user"
    )
    bad = api.post(f"/v2/repositories/{repo}/collaborators", json={"user": "erica", "permission": "owner"})
    assert bad.status_code == 400 and "permission" in bad.json()["errinfo"]
    org = make_org(hub, "danny", unique)
    hub.api("danny").post(f"/v2/namespaces/{org}/repositories", json={"name": "app"})
    refused = api.post(f"/v2/repositories/{org}/app/collaborators", json={"user": "erica"})
    assert_error(refused, 400, "through its teams")
