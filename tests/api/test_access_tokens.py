"""Personal access tokens through /v2/access-tokens, in Docker Hub's shapes."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import ACCESS_TOKEN, PAGE, Hub, assert_typed


def test_create_list_get_update_delete(hub: Hub, unique: str) -> None:
    api = hub.api("carol")
    created = api.post(
        "/v2/access-tokens",
        json={"token_label": f"ci-{unique}", "scopes": ["repo:read"], "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert created.status_code == 201, created.text
    token = created.json()
    assert_typed(token, ACCESS_TOKEN)
    assert token["token"].startswith("dckr_pat_") and token["is_active"] is True
    assert token["scopes"] == ["repo:read"] and token["token_label"] == f"ci-{unique}"
    assert token["expires_at"].startswith("2099-01-01T00:00:00")
    uuid = token["uuid"]

    listing = api.get("/v2/access-tokens").json()
    assert_typed(listing, {**PAGE, "active_count": int})
    mine = [t for t in listing["results"] if t["uuid"] == uuid]
    assert len(mine) == 1 and mine[0]["token"] == ""  # the secret is shown once only
    assert_typed(mine[0], ACCESS_TOKEN)

    one = api.get(f"/v2/access-tokens/{uuid}")
    assert one.status_code == 200 and one.json()["token"] == "" and one.json()["uuid"] == uuid

    renamed = api.patch(f"/v2/access-tokens/{uuid}", json={"token_label": f"renamed-{unique}"})
    assert renamed.status_code == 200 and renamed.json()["token_label"] == f"renamed-{unique}"

    assert hub.login("carol", token["token"])  # it works as a password
    deactivated = api.patch(f"/v2/access-tokens/{uuid}", json={"is_active": False})
    assert deactivated.json()["is_active"] is False
    assert api.patch(f"/v2/access-tokens/{uuid}", json={"is_active": True}).status_code == 400
    refused = httpx.post(f"{hub.url}/v2/users/login", json={"username": "carol", "password": token["token"]})
    assert refused.status_code == 401
    assert api.delete(f"/v2/access-tokens/{uuid}").status_code == 204


def test_hub_tool_spelling(hub: Hub, unique: str) -> None:
    """hub-tool calls /v2/api_tokens."""
    api = hub.api("carol")
    created = api.post("/v2/api_tokens", json={"token_label": f"hubtool-{unique}", "scopes": ["repo:admin"]})
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    assert any(t["uuid"] == uuid for t in api.get("/v2/api_tokens").json()["results"])
    assert api.delete(f"/v2/api_tokens/{uuid}").status_code == 204


def test_tokens_are_private_to_their_owner(hub: Hub, unique: str) -> None:
    uuid = hub.create_pat("carol", f"own-{unique}")["uuid"]
    assert hub.api("bobby").get(f"/v2/access-tokens/{uuid}").status_code == 404
    assert hub.api("bobby").delete(f"/v2/access-tokens/{uuid}").status_code == 404
    assert all(t["uuid"] != uuid for t in hub.api("bobby").get("/v2/access-tokens").json()["results"])
    assert hub.api("carol").get(f"/v2/access-tokens/{uuid}").status_code == 200


def test_a_token_login_cannot_manage_tokens(hub: Hub, unique: str) -> None:
    pat = hub.create_pat("carol", f"limited-{unique}", "repo:admin")
    headers = {"Authorization": f"Bearer {hub.login('carol', pat['token'])}"}
    for method, path in (("GET", "/v2/access-tokens"), ("DELETE", f"/v2/access-tokens/{pat['uuid']}")):
        response = httpx.request(method, f"{hub.url}{path}", headers=headers)
        assert response.status_code == 403, (method, path, response.text)
    response = httpx.post(
        f"{hub.url}/v2/access-tokens",
        headers=headers,
        json={"token_label": "sneaky", "scopes": ["repo:admin"]},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"token_label": "", "scopes": ["repo:read"]},
        {"token_label": "x" * 101},
        {"token_label": "ok", "scopes": ["repo:everything"]},
        {"token_label": "ok", "scopes": []},
        {"token_label": "ok", "expires_at": "2000-01-01T00:00:00Z"},
        {"token_label": "ok", "expires_at": "2099-01-01T00:00:00"},  # no time zone
        {"scopes": ["repo:read"]},
    ],
)
def test_bad_token_requests_are_400(hub: Hub, body: dict[str, object]) -> None:
    response = hub.api("carol").post("/v2/access-tokens", json=body)
    assert response.status_code == 400, response.text
    assert isinstance(response.json()["detail"], str)


def test_unknown_uuid_is_404(hub: Hub) -> None:
    assert hub.api("carol").get("/v2/access-tokens/00000000-0000-0000-0000-000000000000").status_code == 404
    assert hub.api("carol").patch("/v2/access-tokens/nope", json={"is_active": False}).status_code == 404
