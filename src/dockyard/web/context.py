"""What every page handler gets: the visitor (from the session cookie), CSRF protection, rendering.

``@page`` wraps a handler ``async def handler(web: WebRequest) -> Response``:

    load the session (cookie -> SessionStore) and the CSRF token (the session's, or a visitor cookie)
    on POST: check the form's csrf_token and, when sent, that Origin is this site  -> 403 otherwise
    NotFound -> the 404 page; PermissionDenied -> log in first (anonymous) or the 403 page;
    RateLimited -> a 429 page with Retry-After; any other AccountError -> a 400 page with its message
    add security headers (CSP without inline script, no framing, no sniffing)

Post/redirect/get: a form that changes something answers 303 to the page that shows the result,
so reloading that page never submits it again (a second webhook, a second token). What the next
page must say once (a notice, a token or secret shown this once) travels in a *flash*: a cookie
sealed with the server's secrets key (secretbox.py; nobody can read or forge it), bound to the
visitor's CSRF token (no other browser can use it), expiring after ``FLASH_SECONDS``, and deleted
by the page that shows it. A form that is refused shows again with its error and a 4xx status,
keeping what was typed (nothing was changed, so submitting it again changes nothing either).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dockyard import peers
from dockyard.accesslog import note_user
from dockyard.accounts.errors import AccountError, RateLimited
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.config import Settings
from dockyard.hub.errors import NotFound, PermissionDenied
from dockyard.hub.service import HubService
from dockyard.proxy.service import ProxyService
from dockyard.secretbox import SecretBox
from dockyard.web.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionStore, WebSession, new_token

MAX_FORM_BYTES = 1024 * 1024
FLASH_COOKIE = "dockyard_flash"
FLASH_SECONDS = 300
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class CsrfFailure(Exception):
    pass


@dataclass
class WebApp:
    """The services and settings the pages use, built once by setup.install."""

    settings: Settings
    hub: HubService
    accounts: AccountService
    sessions: SessionStore
    env: Environment
    login: Callable[[str, str, str | None], Awaitable[Principal]]
    secrets: SecretBox | None = None  # seals the flash cookie; without it, flashes are not kept
    proxy: ProxyService | None = None  # proxy namespaces, for the administrators' page


class WebRequest:
    def __init__(
        self, request: Request, app: WebApp, session: WebSession | None, csrf: str, new_csrf: bool
    ) -> None:
        self.request = request
        self.app = app
        self.session = session
        self.csrf_token = csrf
        self._new_csrf = new_csrf
        self._form: FormData | None = None
        self.flashed: dict[str, Any] = self._read_flash()
        self._flash_out: dict[str, Any] | None = None
        self._flash_csrf: str | None = None  # a new session's token, when one starts
        self._flash_shown = False  # a page was rendered with it: the cookie goes

    @property
    def viewer(self) -> Principal | None:
        return self.session.principal if self.session else None

    @property
    def hub(self) -> HubService:
        return self.app.hub

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https" or self.app.settings.public_url.startswith("https://")

    @property
    def registry_host(self) -> str:
        """The host to put in ``docker pull`` commands: public_url's, else the request's."""
        if self.app.settings.public_url:
            return urlsplit(self.app.settings.public_url).netloc
        return self.request.headers.get("host") or self.request.url.netloc

    signup_open = False  # set by load(): whether the navigation offers "Sign up"

    @property
    def client_ip(self) -> str | None:
        return peers.client_ip(self.request)

    def param(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def int_param(self, name: str, default: int = 1) -> int:
        value = self.request.query_params.get(name, "")
        return int(value) if value.isdigit() and len(value) < 7 else default

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    async def form(self) -> FormData:
        if self._form is None:
            length = self.request.headers.get("content-length", "")
            if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
                raise CsrfFailure("the form is too large")
            self._form = await self.request.form(max_files=0, max_fields=100)
        return self._form

    async def field(self, name: str, default: str = "") -> str:
        value = (await self.form()).get(name, default)
        return value if isinstance(value, str) else default

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        self._flash_shown = True
        html = self.app.env.get_template(template).render(
            web=self,
            viewer=self.viewer,
            csrf_token=self.csrf_token,
            current_path=self.request.url.path,
            flash=self.flashed,
            signup_open=self.signup_open,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, url: str, **flash: Any) -> RedirectResponse:
        """303 to ``url``; ``flash`` is what the next page says once (see the module's docstring)."""
        if flash:
            self._flash_out = flash
        return RedirectResponse(url, status_code=303)

    def _flash_owner(self, csrf: str | None = None) -> str:
        return hashlib.sha256((csrf or self.csrf_token).encode()).hexdigest()[:32]

    def _read_flash(self) -> dict[str, Any]:
        sealed = self.request.cookies.get(FLASH_COOKIE)
        if not sealed or self.app.secrets is None or len(sealed) > 4096:
            return {}
        try:
            value = self.app.secrets.open(sealed.encode())
        except ValueError:
            return {}
        if (
            not isinstance(value, dict)
            or value.get("for") != self._flash_owner()
            or not isinstance(value.get("at"), int | float)
            or time.time() - value["at"] > FLASH_SECONDS
            or not isinstance(value.get("data"), dict)
        ):
            return {}
        data: dict[str, Any] = value["data"]
        return data

    def _write_flash(self, response: Response) -> None:
        if self._flash_out is not None and self.app.secrets is not None:
            owner = self._flash_owner(self._flash_csrf)
            sealed = self.app.secrets.seal({"for": owner, "at": time.time(), "data": self._flash_out})
            response.set_cookie(
                FLASH_COOKIE, sealed.decode("ascii"), max_age=FLASH_SECONDS, **self._cookie_flags()
            )
        elif FLASH_COOKIE in self.request.cookies and self._flash_shown:
            response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)

    def start_session(self, response: Response, cookie: str, csrf: str | None = None) -> None:
        """Set the session cookie; ``csrf``, the new session's token, is what a flash sent along
        is bound to."""
        self._flash_csrf = csrf
        response.set_cookie(
            SESSION_COOKIE, cookie, max_age=int(self.app.sessions.ttl.total_seconds()), **self._cookie_flags()
        )
        response.delete_cookie(CSRF_COOKIE, path="/")
        self._new_csrf = False

    def end_session(self, response: Response) -> None:
        """Drop the session cookie and hand out a visitor's CSRF token, which a flash sent along
        (a goodbye notice) is bound to."""
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)
        self._flash_csrf = new_token()
        response.set_cookie(CSRF_COOKIE, self._flash_csrf, max_age=2 * 3600, **self._cookie_flags())

    def _cookie_flags(self) -> dict[str, Any]:
        return {"path": "/", "httponly": True, "samesite": "lax", "secure": self.secure}

    def finish(self, response: Response) -> Response:
        self._write_flash(response)
        if self._new_csrf and self.session is None:
            response.set_cookie(CSRF_COOKIE, self.csrf_token, max_age=2 * 3600, **self._cookie_flags())
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def check_csrf(self) -> None:
        origin = self.request.headers.get("origin")
        if origin and origin != "null":
            host = self.request.headers.get("host", "")
            if urlsplit(origin).netloc != host:
                raise CsrfFailure("the form came from another site")
        sent = await self.field("csrf_token")
        if not sent or not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
            raise CsrfFailure("the form expired; reload the page and try again")


Handler = Callable[[WebRequest], Awaitable[Response]]


async def load(request: Request) -> WebRequest:
    app: WebApp = request.app.state.web
    session = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await app.sessions.get(cookie)
    if session is not None:
        note_user(request.scope, session.principal.username)
        web = WebRequest(request, app, session, session.csrf_token, False)
    elif 20 <= len(visitor_token := request.cookies.get(CSRF_COOKIE, "")) <= 64:
        web = WebRequest(request, app, None, visitor_token, False)
    else:
        web = WebRequest(request, app, None, new_token(), True)
    if session is None:
        web.signup_open = await app.hub.site.signup() == "open"
    return web


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        web = await load(request)
        try:
            if request.method == "POST":
                await web.check_csrf()
            response = await handler(web)
        except CsrfFailure as failure:
            response = error_page(web, 403, "Request refused", str(failure))
        except NotFound:
            response = not_found(web)
        except PermissionDenied as denied:
            if web.viewer is None and request.method == "GET":
                response = web.redirect(login_url(request.url.path))
            else:
                response = error_page(web, 403, "Not allowed", denied.message)
        except RateLimited as limited:
            response = error_page(web, 429, "Slow down", limited.message)
            response.headers["Retry-After"] = str(limited.retry_after)
        except AccountError as error:
            response = error_page(web, 400, "That did not work", error.message)
        return web.finish(response)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def not_found(web: WebRequest) -> HTMLResponse:
    return error_page(
        web, 404, "Page not found", "There is nothing here, or nothing you have access to. Check the address."
    )


def error_page(web: WebRequest, status: int, title: str, message: str) -> HTMLResponse:
    return web.render("errors/error.html", status=status, title=title, message=message, status_code=status)
