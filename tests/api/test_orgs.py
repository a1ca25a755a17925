"""Organisations through the API at Docker Hub's paths: creation, the caller's organisations,
members and roles (an organisation never loses its last owner), invitations by Docker ID,
settings, deletion; who may see and do what; errors in Docker Hub's shape."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import PAGE, Hub, assert_typed

ORG: dict[str, Any] = {
    "id": str,
    "orgname": str,
    "full_name": str,
    "location": str,
    "company": str,
    "profile_url": str,
    "gravatar_url": str,
    "date_joined": "date",
    "type": str,
    "role": (str, type(None)),
    "default_repository_visibility": str,
}
MEMBER: dict[str, Any] = {
    "id": str,
    "username": str,
    "full_name": str,
    "profile_url": str,
    "date_joined": "date",
    "type": str,
    "role": str,
    "groups": list,
    "is_guest": bool,
}


def make_org(hub: Hub, owner: str, unique: str) -> str:
    name = f"org{unique}"
    response = hub.api(owner).post("/v2/orgs/", json={"orgname": name})
    assert response.status_code == 201, response.text
    assert_typed(response.json(), ORG)
    assert response.json()["orgname"] == name and response.json()["role"] == "Owner"
    return name


def members(hub: Hub, user: str, org: str, **params: str) -> dict[str, str]:
    response = hub.api(user).get(f"/v2/orgs/{org}/members", params=params)
    assert response.status_code == 200, response.text
    assert_typed(response.json(), PAGE)
    for item in response.json()["results"]:
        assert_typed(item, MEMBER)
    return {m["username"]: m["role"] for m in response.json()["results"]}


def assert_error(
    response: httpx.Response, status: int, text: str, errinfo: dict[str, str] | None = None
) -> None:
    """Docker Hub's error shape: message and errinfo; detail (the older shape) says the same."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert text in body["message"], body
    assert body["detail"] == body["message"] and isinstance(body["errinfo"], dict), body
    if errinfo is not None:
        assert body["errinfo"] == errinfo, body


def test_create_and_list_my_orgs(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    mine = hub.api("danny").get("/v2/user/orgs/")
    assert mine.status_code == 200
    listed = {o["orgname"]: o for o in mine.json()["results"]}
    assert listed[org]["role"] == "Owner" and listed[org]["default_repository_visibility"] == "public"
    assert org not in {o["orgname"] for o in hub.api("carol").get("/v2/user/orgs/").json()["results"]}
    profile = hub.api().get(f"/v2/orgs/{org}/")
    assert profile.status_code == 200 and profile.json()["type"] == "Organization"
    assert_error(hub.api("danny").post("/v2/orgs/", json={"orgname": org}), 409, "already taken")
    assert_error(hub.api("danny").post("/v2/orgs/", json={"orgname": "admin"}), 400, "reserved")
    assert hub.api().post("/v2/orgs/", json={"orgname": f"anon{unique}"}).status_code == 401


def test_members_roles_and_the_last_owner(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    invited = hub.api("danny").post(
        "/v2/invites/bulk",
        json={"org": org, "invitees": ["erica", "carol", "nosuchuser", "danny"], "role": "member"},
    )
    assert invited.status_code == 200, invited.text
    assert {i["invitee"]: i["status"] for i in invited.json()["invitees"]} == {
        "erica": "added",
        "carol": "added",
        "nosuchuser": "invalid_email_or_docker_id",
        "danny": "existing_org_member",
    }
    assert members(hub, "erica", org) == {"carol": "Member", "danny": "Owner", "erica": "Member"}
    assert members(hub, "danny", org, role="owner") == {"danny": "Owner"}
    assert members(hub, "danny", org, search="ric") == {"erica": "Member"}

    last = hub.api("danny").put(f"/v2/orgs/{org}/members/danny", json={"role": "member"})
    assert_error(last, 409, "last owner", {"orgname": org, "username": "danny"})
    assert_error(hub.api("danny").delete(f"/v2/orgs/{org}/members/danny"), 409, "last owner")

    promoted = hub.api("danny").put(f"/v2/orgs/{org}/members/erica", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "Owner"
    assert "owners" in promoted.json()["groups"]
    assert hub.api("erica").put(f"/v2/orgs/{org}/members/danny", json={"role": "member"}).status_code == 200
    assert members(hub, "carol", org) == {"carol": "Member", "danny": "Member", "erica": "Owner"}

    # Members may not manage; they may leave.
    assert_error(hub.api("danny").delete(f"/v2/orgs/{org}/members/carol"), 403, "only owners")
    assert hub.api("carol").delete(f"/v2/orgs/{org}/members/carol").status_code == 204
    assert_error(hub.api("carol").get(f"/v2/orgs/{org}/members"), 403, "only members")
    assert hub.api("erica").delete(f"/v2/orgs/{org}/members/danny").status_code == 204
    assert members(hub, "erica", org) == {"erica": "Owner"}
    assert_error(hub.api("erica").delete(f"/v2/orgs/{org}/members/danny"), 404, "not a member")


def test_invitations_into_a_team_and_dry_runs(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    assert hub.api("danny").post(f"/v2/orgs/{org}/groups", json={"name": "devs"}).status_code == 201
    dry = hub.api("danny").post(
        "/v2/invites/bulk", json={"org": org, "team": "devs", "invitees": ["erica"], "dry_run": True}
    )
    assert dry.json()["invitees"] == [{"invitee": "erica", "status": "added", "invite": None}]
    assert "erica" not in members(hub, "danny", org)
    real = hub.api("danny").post("/v2/invites/bulk", json={"org": org, "team": "devs", "invitees": ["erica"]})
    assert real.status_code == 200
    assert members(hub, "danny", org)["erica"] == "Member"
    group = hub.api("danny").get(f"/v2/orgs/{org}/groups/devs/members").json()["results"]
    assert [m["username"] for m in group] == ["erica"]
    missing_team = {"org": org, "team": "nope", "invitees": ["carol"]}
    assert hub.api("danny").post("/v2/invites/bulk", json=missing_team).status_code == 404
    assert "carol" not in members(hub, "danny", org)
    refused = hub.api("erica").post("/v2/invites/bulk", json={"org": org, "invitees": ["carol"]})
    assert_error(refused, 403, "only owners")
    bad = hub.api("danny").post("/v2/invites/bulk", json={"org": org, "invitees": []})
    assert bad.status_code == 400 and "invitees" in bad.json()["errinfo"]


def test_outsiders_and_anonymous_callers(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    for path in (f"/v2/orgs/{org}/members", f"/v2/orgs/{org}/groups", f"/v2/orgs/{org}/settings"):
        assert_error(hub.api("carol").get(path), 403, "only members")
        assert hub.api().get(path).status_code == 401
        assert hub.api("siteadmin").get(path).status_code == 200
    assert_error(
        hub.api("carol").get("/v2/orgs/nosuchorg/members"), 404, "no organisation", {"orgname": "nosuchorg"}
    )
    assert_error(hub.api("carol").put(f"/v2/orgs/{org}/members/carol", json={"role": "owner"}), 403, "only")


def test_settings_and_deletion(hub: Hub, unique: str) -> None:
    org = make_org(hub, "danny", unique)
    api = hub.api("danny")
    changed = api.patch(f"/v2/orgs/{org}/settings", json={"default_repository_visibility": "private"})
    assert changed.status_code == 200 and changed.json() == {"default_repository_visibility": "private"}
    assert api.get(f"/v2/orgs/{org}/settings").json() == {"default_repository_visibility": "private"}
    created = api.post(f"/v2/namespaces/{org}/repositories", json={"name": "app"})
    assert created.status_code == 201 and created.json()["is_private"] is True
    assert_error(api.delete(f"/v2/orgs/{org}/"), 409, "1 repositories")
    assert api.delete(f"/v2/repositories/{org}/app/").status_code == 202
    hub.api("danny").post("/v2/invites/bulk", json={"org": org, "invitees": ["erica"]})
    assert_error(hub.api("erica").delete(f"/v2/orgs/{org}/"), 403, "only owners")
    assert api.delete(f"/v2/orgs/{org}").status_code == 204
    assert hub.api().get(f"/v2/orgs/{org}/").status_code == 404
    assert org not in {o["orgname"] for o in hub.api("erica").get("/v2/user/orgs/").json()["results"]}
    assert_error(api.post("/v2/orgs/", json={"orgname": org}), 409, "deleted account")
