"""Wiring of the pages into the app, in one call from create_app:

    install(app, settings, hub, accounts, sessions, login, secrets)

adds the page routes and /static over the services the composition root built (services.py),
and renders HTML error pages for browsers outside /v2 and /v1.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dockyard.accounts.service import AccountService
from dockyard.auth.service import AuthService
from dockyard.config import Settings
from dockyard.hub.service import HubService
from dockyard.proxy.service import ProxyService
from dockyard.secretbox import SecretBox
from dockyard.web.context import WebApp, error_page, load, not_found
from dockyard.web.login import password_login
from dockyard.web.routes import page_routes
from dockyard.web.sessions import SessionStore
from dockyard.web.templating import environment

MACHINE_PREFIXES = ("/v2", "/v1", "/token", "/api/", "/openapi")


def install(
    app: Starlette,
    settings: Settings,
    hub: HubService,
    accounts: AccountService,
    sessions: SessionStore,
    login: AuthService,
    secrets: SecretBox,
    proxy: ProxyService | None = None,
) -> None:
    app.state.hub = hub
    app.state.web = WebApp(
        settings, hub, accounts, sessions, environment(), password_login(login), secrets, proxy
    )
    app.router.routes.extend(page_routes())
    _html_errors(app)


def _html_errors(app: Starlette) -> None:
    """Routing errors as pages for browsers; the registry's (JSON) rendering for machine paths."""
    machine = app.exception_handlers.get(HTTPException)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if machine is not None and (
            path.startswith(MACHINE_PREFIXES) or "text/html" not in request.headers.get("accept", "")
        ):
            return await machine(request, exc)  # type: ignore[no-any-return]
        web = await load(request)
        if exc.status_code == 404:
            response = not_found(web)
        else:
            response = error_page(web, exc.status_code, "Request refused", str(exc.detail))
        return web.finish(response)

    app.add_exception_handler(HTTPException, handler)
