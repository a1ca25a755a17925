"""Sign up, log in, log out, personal access tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, InvalidInput, RateLimited
from dockyard.accounts.records import TOKEN_SCOPES
from dockyard.web.context import WebRequest, page
from dockyard.web.login import LoginFailed
from dockyard.web.pages.common import require_viewer, safe_next

TOKEN_EXPIRY_DAYS = {"": None, "30": 30, "90": 90, "365": 365}
SCOPE_LABELS = {
    "repo:admin": "Read, write, delete",
    "repo:write": "Read and write",
    "repo:read": "Read only",
    "repo:public_read": "Public repositories, read only",
}


@page
async def signup(web: WebRequest) -> Response:
    """Sign up, unless DOCKYARD_SIGNUP is closed; each address may sign up a few times an hour."""
    if web.viewer is not None:
        return web.redirect("/")
    if await web.hub.site.signup(fresh=True) == "closed":
        return web.render("accounts/signup.html", status=403, closed=True, values={}, error=None)
    if web.request.method == "GET":
        return web.render("accounts/signup.html", values={}, error=None)
    values = {name: await web.field(name) for name in ("username", "email")}
    password, confirm = await web.field("password"), await web.field("confirm")
    try:
        if password != confirm:
            raise InvalidInput("The two passwords differ.")
        await web.app.accounts.create_user(
            values["username"],
            values["email"],
            password,
            actor=values["username"],
            signup_address=web.client_ip or "unknown",
        )
    except RateLimited as limited:
        response = web.render("accounts/signup.html", status=429, values=values, error=limited.message)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    except AccountError as error:
        return web.render("accounts/signup.html", status=400, values=values, error=error.message)
    return await _log_in(web, values["username"], password, "/")


@page
async def login(web: WebRequest) -> Response:
    next_path = safe_next(web.param("next"))
    if web.request.method == "GET":
        if web.viewer is not None:
            return web.redirect(next_path)
        return web.render("accounts/login.html", next=next_path, username="", error=None)
    username = (await web.field("username")).strip()
    return await _log_in(web, username, await web.field("password"), safe_next(await web.field("next")))


async def _log_in(web: WebRequest, username: str, password: str, next_path: str) -> Response:
    try:
        principal = await web.app.login(username, password, web.client_ip)
    except LoginFailed as failed:
        return web.render(
            "accounts/login.html", status=401, next=next_path, username=username, error=failed.message
        )
    cookie, session = await web.app.sessions.create(
        principal, web.client_ip, web.request.headers.get("user-agent")
    )
    response = web.redirect(next_path)
    web.start_session(response, cookie, session.csrf_token)
    return response


@page
async def logout(web: WebRequest) -> Response:
    cookie = web.request.cookies.get("dockyard_session")
    if cookie:
        await web.app.sessions.delete(cookie)
    response = web.redirect("/", notice="You are logged out.")
    web.end_session(response)
    return response


@page
async def tokens(web: WebRequest) -> Response:
    require_viewer(web)
    return await _tokens_page(web)


async def _tokens_page(web: WebRequest, status: int = 200, **context: object) -> Response:
    assert web.viewer is not None
    listed = await web.app.accounts.list_tokens(web.viewer.username)
    return web.render(
        "accounts/tokens.html",
        status=status,
        tokens=sorted(listed, key=lambda t: (t.revoked, -t.id)),
        scopes=[(scope, SCOPE_LABELS[scope]) for scope in TOKEN_SCOPES],
        expiry=list(TOKEN_EXPIRY_DAYS),
        tab="tokens",
        **context,
    )


@page
async def create_token(web: WebRequest) -> Response:
    require_viewer(web)
    assert web.viewer is not None
    label, scope, days = await web.field("label"), await web.field("scope"), await web.field("expires")
    try:
        if days not in TOKEN_EXPIRY_DAYS:
            raise InvalidInput("Choose an expiry from the list.")
        length = TOKEN_EXPIRY_DAYS[days]
        expires = datetime.now(UTC) + timedelta(days=length) if length else None
        token, plaintext = await web.app.accounts.create_token(
            web.viewer.username, label, [scope], expires, actor=web.viewer.username
        )
    except AccountError as error:
        return await _tokens_page(web, 400, error=error.message, label=label)
    return web.redirect("/settings/tokens", created_token={"label": token.label, "plaintext": plaintext})


@page
async def revoke_token(web: WebRequest) -> Response:
    require_viewer(web)
    assert web.viewer is not None
    token_id = int(web.path("token_id"))
    await web.app.accounts.revoke_token(web.viewer.username, token_id, actor=web.viewer.username)
    return web.redirect("/settings/tokens", notice="Token revoked.")
