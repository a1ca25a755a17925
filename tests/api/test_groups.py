"""Groups (teams) through the API: create, rename, delete, members, and their permissions on the
organisation's repositories, which then decide what a member sees."""

from __future__ import annotations

from tests.api.helpers import Hub
from tests.api.test_orgs import assert_error, make_org


def test_groups_and_their_members(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    api = hub.api("danny")
    created = api.post(f"/v2/orgs/{org}/groups", json={"name": "devs", "description": "builders"})
    assert created.status_code == 201
    group = created.json()
    assert (group["name"], group["description"], group["member_count"]) == ("devs", "builders", 0)
    assert isinstance(group["id"], int) and isinstance(group["uuid"], str)
    assert_error(api.post(f"/v2/orgs/{org}/groups", json={"name": "devs"}), 409, "already has a team")
    assert api.post(f"/v2/orgs/{org}/groups", json={"name": "Bad Name"}).status_code == 400

    added = api.post(f"/v2/orgs/{org}/groups/devs/members", json={"member": "erica"})
    assert added.status_code == 200 and added.json()["groups"] == ["devs"]
    assert api.get(f"/v2/orgs/{org}/groups/devs").json()["member_count"] == 1
    listed = api.get(f"/v2/orgs/{org}/groups").json()
    assert sorted(g["name"] for g in listed["results"]) == ["devs", "owners"]
    # erica is now a member of the organisation and sees its groups, but changes nothing.
    assert hub.api("erica").get(f"/v2/orgs/{org}/groups/devs/members").status_code == 200
    assert_error(hub.api("erica").post(f"/v2/orgs/{org}/groups", json={"name": "mine"}), 403, "only owners")

    renamed = api.patch(f"/v2/orgs/{org}/groups/devs", json={"name": "builders", "description": "ci"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "builders"
    assert_error(
        api.patch(f"/v2/orgs/{org}/groups/owners", json={"name": "bosses"}), 409, "cannot be renamed"
    )
    assert_error(api.delete(f"/v2/orgs/{org}/groups/owners"), 409, "cannot be deleted")
    assert api.get(f"/v2/orgs/{org}/groups/devs").status_code == 404

    assert api.delete(f"/v2/orgs/{org}/groups/builders/members/erica").status_code == 204
    assert api.delete(f"/v2/orgs/{org}/groups/builders/members/erica").status_code == 404
    assert_error(api.delete(f"/v2/orgs/{org}/groups/owners/members/danny"), 409, "last owner")
    assert api.delete(f"/v2/orgs/{org}/groups/builders").status_code == 204
    assert [g["name"] for g in api.get(f"/v2/orgs/{org}/groups").json()["results"]] == ["owners"]


def test_repository_permissions_of_groups(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    api = hub.api("danny")
    api.post(f"/v2/namespaces/{org}/repositories", json={"name": "secret", "is_private": True})
    group_id = api.post(f"/v2/orgs/{org}/groups", json={"name": "readers"}).json()["id"]
    api.post(f"/v2/orgs/{org}/groups/readers/members", json={"member": "erica"})
    assert hub.api("erica").get(f"/v2/repositories/{org}/secret/").status_code == 404

    granted = api.post(
        f"/v2/repositories/{org}/secret/groups", json={"group_id": group_id, "permission": "read"}
    )
    assert granted.status_code == 200
    assert granted.json() == {"group_id": group_id, "group_name": "readers", "permission": "read"}
    seen = hub.api("erica").get(f"/v2/repositories/{org}/secret/")
    assert seen.status_code == 200
    assert seen.json()["permissions"] == {"read": True, "write": False, "admin": False}
    listed = api.get(f"/v2/repositories/{org}/secret/groups").json()
    assert listed["results"] == [{"group_id": group_id, "group_name": "readers", "permission": "read"}]
    by_name = api.post(
        f"/v2/repositories/{org}/secret/groups", json={"group_name": "readers", "permission": "write"}
    )
    assert by_name.json()["permission"] == "write"

    # Only the repository's admins see and change this.
    assert hub.api("erica").get(f"/v2/repositories/{org}/secret/groups").status_code == 403
    assert hub.api("carol").get(f"/v2/repositories/{org}/secret/groups").status_code == 404
    both = {"group_id": group_id, "group_name": "readers", "permission": "read"}
    assert api.post(f"/v2/repositories/{org}/secret/groups", json=both).status_code == 400
    owners = {"group_name": "owners", "permission": "read"}
    assert api.post(f"/v2/repositories/{org}/secret/groups", json=owners).status_code == 400

    assert api.delete(f"/v2/repositories/{org}/secret/groups/{group_id}").status_code == 204
    assert api.delete(f"/v2/repositories/{org}/secret/groups/{group_id}").status_code == 404
    assert hub.api("erica").get(f"/v2/repositories/{org}/secret/").status_code == 404
    personal = hub.api("danny").post("/v2/repositories/", json={"namespace": "danny", "name": f"p{unique}"})
    assert personal.status_code == 201
    assert api.get(f"/v2/repositories/danny/p{unique}/groups").json()["results"] == []
