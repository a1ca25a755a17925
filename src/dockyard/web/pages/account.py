"""Account settings and a user's starred repositories.

GET  /settings                       -> /settings/general
GET  /settings/general               profile (full name, location, company, website) and email
POST /settings/general               save them
GET  /settings/security              change password; the access tokens are one tab over
POST /settings/password              the current password, then the new one twice: every other
                                     session and refresh token ends, this browser stays in
POST /settings/delete                delete the account: the name typed again and the password
GET  /u/{name}/starred               the repositories a user starred that the viewer may see
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, InvalidInput
from dockyard.accounts.records import Profile
from dockyard.web.context import WebRequest, page
from dockyard.web.login import LoginFailed
from dockyard.web.pages.common import cursor, require_viewer
from dockyard.web.sessions import SESSION_COOKIE

PROFILE_FIELDS = ("full_name", "location", "company", "website", "email")


@page
async def settings_index(web: WebRequest) -> Response:
    require_viewer(web)
    return web.redirect("/settings/general")


async def _general_page(
    web: WebRequest, status: int = 200, values: dict[str, str] | None = None, **context: object
) -> Response:
    assert web.viewer is not None
    user = await web.app.accounts.get_user(web.viewer.username)
    assert user is not None
    if values is None:
        values = {name: getattr(user.profile, name) for name in PROFILE_FIELDS if name != "email"}
        values["email"] = user.email
    context.setdefault("error", None)
    return web.render(
        "account/general.html", status=status, values=values, user=user, tab="general", **context
    )


@page
async def general(web: WebRequest) -> Response:
    require_viewer(web)
    return await _general_page(web)


@page
async def save_general(web: WebRequest) -> Response:
    require_viewer(web)
    assert web.viewer is not None
    values = {name: await web.field(name) for name in PROFILE_FIELDS}
    profile = Profile(values["full_name"], values["location"], values["company"], values["website"])
    try:
        await web.app.accounts.update_profile(
            web.viewer.username, profile, values["email"], actor=web.viewer.username
        )
    except AccountError as error:
        return await _general_page(web, 400, values, error=error.message)
    return web.redirect("/settings/general", notice="Your profile was saved.")


@page
async def security(web: WebRequest) -> Response:
    require_viewer(web)
    return web.render("account/security.html", error=None, tab="security")


@page
async def change_password(web: WebRequest) -> Response:
    """The current password first (through the login's throttle, so a left-open browser cannot
    guess it), then the new one twice. The account's credentials version moves on: every other
    session, refresh token and hub token from a password ends; this browser gets a new cookie."""
    require_viewer(web)
    assert web.viewer is not None
    current, new_password = await web.field("current"), await web.field("password")
    try:
        await web.app.login(web.viewer.username, current, web.client_ip)
        if new_password != await web.field("confirm"):
            raise InvalidInput("The two new passwords differ.")
        await web.app.accounts.set_password(web.viewer.username, new_password, actor=web.viewer.username)
    except (LoginFailed, AccountError) as error:
        message = "The current password is wrong." if isinstance(error, LoginFailed) else error.message
        return web.render("account/security.html", status=400, error=message, tab="security")
    fresh = await web.app.sessions.keep_only(web.request.cookies.get(SESSION_COOKIE, ""))
    response = web.redirect(
        "/settings/security", notice="Password changed. You were logged out everywhere else."
    )
    if fresh is not None:
        web.start_session(response, fresh, web.csrf_token)
    return response


@page
async def delete_account(web: WebRequest) -> Response:
    """Typed confirmation and the password: the account goes with every repository it holds."""
    require_viewer(web)
    assert web.viewer is not None
    try:
        await web.app.login(web.viewer.username, await web.field("password"), web.client_ip)
        removed = await web.hub.delete_account(web.viewer, await web.field("confirm"))
    except (LoginFailed, AccountError) as error:
        wrong = "The password is wrong; nothing was deleted."
        return await _general_page(
            web, 400, delete_error=wrong if isinstance(error, LoginFailed) else error.message
        )
    also = f" with {removed} {'repository' if removed == 1 else 'repositories'}" if removed else ""
    response = web.redirect("/", notice=f"Your account {web.viewer.username} was deleted{also}.")
    web.end_session(response)
    return response


@page
async def starred(web: WebRequest) -> Response:
    info = await web.hub.namespace(web.path("namespace"))
    if info.kind != "user":
        return web.redirect(f"/u/{info.name}")
    found = await web.hub.starred(
        web.viewer, info.name, page=web.int_param("page"), page_size=25, cursor=cursor(web)
    )
    return web.render("explore/starred.html", namespace=info, repositories=found, tab="starred")
