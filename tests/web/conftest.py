"""Fixtures for the pages: a server with token auth per module (the app on a real socket), one
headless Chromium for the whole package, and helpers that sign people up and log them in, through
the browser or over plain HTTP, take screenshots and run axe-core in a page.

Chromium is Debian's (/usr/bin/chromium): Playwright cannot download browsers here. Without it the
browser tests skip locally and fail under CI=true (``require_tool``). Screenshots go to
test-artifacts/screenshots/ at the repository root (git-ignored) for people to look at.

axe-core comes from npm into tests/web/axe/node_modules (git-ignored): ``npm ci --prefix
tests/web/axe`` (``.ci/run`` does it). Without it the accessibility checks skip locally and fail
under CI=true, as a missing client does.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import DockyardServer, Server, in_ci, require_tool
from tests.inprocess import ThreadedDockyard

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


def unique_name(prefix: str) -> str:
    """A Docker ID of its own (lowercase letters and digits, 4 to 30)."""
    return f"{prefix}{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Server]:
    """The app with token auth on (the default), as people run it, on a real socket for the browser:
    served from a thread of the test process (tests/inprocess.py's ThreadedDockyard), since the pages
    need no server process of their own; test_build_page.py keeps a real `dockyard serve`."""
    data = tmp_path_factory.mktemp("web") / "data"
    with ThreadedDockyard(data, template=template_database) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all the browser tests (they all live in this package); each test opens
    contexts of its own (cheap, isolated). Package scope, not session: Playwright's sync API keeps
    an event loop running while it is open, which the asyncio tests after tests/web must not meet."""
    path = require_tool("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=shutil.which(path) or path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def axe_source() -> str:
    """axe-core's script, or a skip (a failure under CI=true) when it is not installed."""
    if not AXE.is_file():
        message = f"axe-core is not installed: npm ci --prefix {AXE.parents[2].relative_to(ROOT)}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of the page as it is now, of the given impacts, one line each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol: the pages' CSP (no inline script) stays on.
        page.evaluate(axe_source() + "\n;true")
    results = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}"
        for v in results
        if v["impact"] in impacts
    ]


@pytest.fixture
def context(browser: Browser, server: DockyardServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_up(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name=f"Welcome, {username}").is_visible()


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def create_repository(
    page: Page, name: str, *, description: str = "", readme: str = "", private: bool = False
) -> None:
    page.goto("/repository/create")
    page.get_by_label("Repository name").fill(name)
    page.get_by_label("Short description").fill(description)
    page.get_by_label("Full description (Markdown)").fill(readme)
    page.get_by_label("Private").check() if private else page.get_by_label("Public").check()
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"**/{name}")


class WebClient:
    """The pages over plain HTTP (no browser): for cookies, CSRF and status codes."""

    def __init__(self, server: DockyardServer) -> None:
        self.http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)

    def csrf(self, path: str) -> str:
        response = self.http.get(path)
        match = CSRF_RE.search(response.text)
        assert match, f"no CSRF token on {path}: {response.status_code}"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], *, form_page: str | None = None) -> httpx.Response:
        token = self.csrf(form_page or path)
        return self.http.post(path, data={**data, "csrf_token": token})

    def sign_up(self, username: str, password: str = PASSWORD) -> httpx.Response:
        data = {"username": username, "email": "", "password": password, "confirm": password}
        response = self.post("/signup", data)
        assert response.status_code == 303, response.text
        return response

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def web_client(server: DockyardServer) -> Iterator[WebClient]:
    client = WebClient(server)
    yield client
    client.close()
