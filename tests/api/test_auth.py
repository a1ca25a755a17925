"""Logging in to the hub API, and what its tokens are (and are not) good for."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import Hub


def test_login_with_password_returns_a_token(hub: Hub) -> None:
    response = httpx.post(
        f"{hub.url}/v2/users/login",
        json={"username": "alice", "password": hub.world.passwords["alice"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token"}
    assert isinstance(body["token"], str) and body["token"].count(".") == 2  # a JWT


def test_login_accepts_what_hub_tool_sends(hub: Hub) -> None:
    """hub-tool posts docker's whole AuthConfig to /v2/users/login?refresh_token=true."""
    body = {"username": "alice", "password": hub.world.passwords["alice"], "auth": "", "email": ""}
    response = httpx.post(f"{hub.url}/v2/users/login?refresh_token=true", json=body)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["token"], str)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nosuchuser", "whatever123"), ("alice", "dckr_pat_" + "x" * 36)],
)
def test_wrong_credentials_are_401_in_docker_hubs_words(hub: Hub, username: str, password: str) -> None:
    response = httpx.post(f"{hub.url}/v2/users/login", json={"username": username, "password": password})
    assert response.status_code == 401
    text = "Incorrect authentication credentials"
    assert response.json() == {"message": text, "errinfo": {}, "detail": text}


def test_login_with_a_personal_access_token(hub: Hub, unique: str) -> None:
    pat = hub.create_pat("carol", f"login-{unique}", "repo:read")["token"]
    token = hub.login("carol", pat)
    me = httpx.get(f"{hub.url}/v2/user/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "carol"


def test_auth_token_endpoint(hub: Hub) -> None:
    response = httpx.post(
        f"{hub.url}/v2/auth/token",
        json={"identifier": "bobby", "secret": hub.world.passwords["bobby"]},
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    me = httpx.get(f"{hub.url}/v2/user/", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "bobby"
    wrong = httpx.post(f"{hub.url}/v2/auth/token", json={"identifier": "bobby", "secret": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == wrong.json()["message"] == "Incorrect authentication credentials"


def test_jwt_scheme_is_accepted_as_bearer(hub: Hub) -> None:
    token = hub.login("alice")
    response = httpx.get(f"{hub.url}/v2/user/", headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "alice"


def test_current_user_fields(hub: Hub) -> None:
    body = hub.api("alice").get("/v2/user/").json()
    assert body["username"] == "alice"
    assert body["type"] == "User"
    assert body["is_admin"] is False
    for name in ("id", "full_name", "location", "company", "profile_url", "gravatar_url", "date_joined"):
        assert isinstance(body[name], str), name


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-jwt", "Bearer", "Basic YWxpY2U6eA==", "Bearer " + "a" * 9000, "JWT a.b.c"],
)
def test_bad_authorization_is_401_not_anonymous(hub: Hub, header: str) -> None:
    response = httpx.get(f"{hub.url}/v2/repositories/alice/", headers={"Authorization": header})
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_endpoints_that_need_a_login_say_401(hub: Hub) -> None:
    anonymous = hub.api()
    assert anonymous.get("/v2/user/").status_code == 401
    assert anonymous.get("/v2/access-tokens").status_code == 401
    assert anonymous.post("/v2/repositories/", json={"namespace": "alice", "name": "x"}).status_code == 401


def test_registry_tokens_are_not_hub_tokens_and_back(hub: Hub) -> None:
    registry_token = hub.world.token("repository:alice/anything:pull", user="alice")
    api = httpx.get(f"{hub.url}/v2/user/", headers={"Authorization": f"Bearer {registry_token}"})
    assert api.status_code == 401
    hub_token = hub.login("alice")
    registry = httpx.get(f"{hub.url}/v2/", headers={"Authorization": f"Bearer {hub_token}"})
    assert registry.status_code == 401
    assert "errors" in registry.json()  # the registry's own error format


def test_revoking_the_pat_ends_the_hub_token_made_from_it(hub: Hub, unique: str) -> None:
    pat = hub.create_pat("carol", f"revoke-{unique}", "repo:admin")
    token = hub.login("carol", pat["token"])
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{hub.url}/v2/user/", headers=headers).status_code == 200
    assert hub.api("carol").delete(f"/v2/access-tokens/{pat['uuid']}").status_code == 204
    response = httpx.get(f"{hub.url}/v2/user/", headers=headers)
    assert response.status_code == 401
    assert "gone" in response.json()["detail"]


def test_profiles(hub: Hub) -> None:
    user = hub.api().get("/v2/users/bobby/").json()
    assert user["username"] == "bobby" and user["type"] == "User"
    assert "email" not in user
    org = hub.api().get("/v2/orgs/acmeorg/").json()
    assert org["username"] == "acmeorg" and org["type"] == "Organization"
    assert hub.api().get("/v2/users/nosuchuser/").status_code == 404
    assert hub.api().get("/v2/orgs/alice/").status_code == 404
