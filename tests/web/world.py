"""A small hub with one person in each role the browser tests walk the pages as:

    admin     a site administrator (made with the CLI, as the README says)
    owner     owns {owner}/app (public, images, a README) and {owner}/secret (private), and is the
              owner of organisation {org}, whose {org}/tool is private
    member    in {org}'s team "devs", which has write on {org}/tool
    outsider  signed up, nothing else
    anonymous not logged in

Images pushed with the registry API: {owner}/app:v1 with a config whose history, env, ports and
labels the tests know, a signature artifact referring to it, and a two-platform index at :multi.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from playwright.sync_api import Browser, BrowserContext, Page

from tests.access.helpers import run_cli_in_process
from tests.conftest import DockyardServer
from tests.web.conftest import PASSWORD, WebClient, log_in, unique_name
from tests.web.registry_client import Pushed, RegistryClient

README = """# The app

> A note quoted from elsewhere.

<details>
<summary>Build options</summary>

Run `make` with **FAST=1**.

</details>
"""
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:2a94 in / "},
    {"created_by": "/bin/sh -c #(nop)  ENV APP_MODE=production", "empty_layer": True},
    {"created_by": "RUN /bin/sh -c apk add --no-cache curl # buildkit"},
    {"created_by": '/bin/sh -c #(nop)  CMD ["app", "--serve"]', "empty_layer": True},
]
CONFIG = {
    "os": "linux",
    "architecture": "arm64",
    "variant": "v8",
    "created": "2026-11-01T10:00:00Z",
    "config": {
        "Env": ["PATH=/usr/bin:/bin", "APP_MODE=production"],
        "Entrypoint": ["/entry.sh"],
        "Cmd": ["app", "--serve"],
        "ExposedPorts": {"8080/tcp": {}, "9090/udp": {}},
        "Labels": {"org.opencontainers.image.source": "https://example.com/app"},
        "WorkingDir": "/srv",
    },
    "rootfs": {"type": "layers", "diff_ids": []},
    "history": HISTORY,
}
LAYERS = [b"base layer " * 4000, b"curl layer " * 700]


def dockyard(server: DockyardServer, *args: str, stdin: str | None = None) -> str:
    """Run the dockyard CLI against the server's data folder while the server runs: the CLI app in
    this process (another process than the server's), without an interpreter start per command."""
    result = run_cli_in_process([*args, "--data-dir", str(server.data_dir)], io.StringIO(stdin or ""))
    assert result.code == 0, str(result)
    return result.stdout


@dataclass
class World:
    server: DockyardServer
    admin: str
    owner: str
    member: str
    outsider: str
    org: str
    image: Pushed
    signature: str
    index: str
    platforms: list[Pushed]
    delivery: str = ""  # a webhook delivery's id, when a test made one

    @property
    def app(self) -> str:
        return f"{self.owner}/app"

    @property
    def secret(self) -> str:
        return f"{self.owner}/secret"

    @property
    def tool(self) -> str:
        return f"{self.org}/tool"

    def user(self, role: str) -> str | None:
        return None if role == "anonymous" else str(getattr(self, role))


def build_world(server: DockyardServer) -> World:
    admin, owner, member, outsider = (unique_name(p) for p in ("admin", "owner", "member", "outsider"))
    org = unique_name("acme")
    dockyard(server, "user", "create", admin, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    for name in (owner, member, outsider):
        client = WebClient(server)
        client.sign_up(name)
        if name == owner:
            for repo, visibility, readme in (("app", "public", README), ("secret", "private", "")):
                made = client.post(
                    "/repository/create",
                    {"namespace": owner, "name": repo, "description": f"The {repo}",
                     "full_description": readme, "visibility": visibility},
                )  # fmt: skip
                assert made.status_code == 303, made.text
        client.close()
    dockyard(server, "org", "create", org, "--owner", owner)
    dockyard(server, "team", "create", org, "devs")
    dockyard(server, "team", "add-member", org, "devs", member)
    dockyard(server, "repo", "create", f"{org}/tool", "--private", "--description", "Team tool")
    dockyard(server, "team", "grant", org, "devs", f"{org}/tool", "--permission", "write")
    registry = RegistryClient(server, owner, PASSWORD)
    image = registry.configured(f"{owner}/app", "v1", CONFIG, LAYERS)
    signature = registry.artifact(f"{owner}/app", image, SIGNATURE, b'{"critical": {}}')
    index, platforms = registry.index(
        f"{owner}/app", "multi", [("linux", "amd64", None), ("linux", "arm", "v7")]
    )
    RegistryClient(server, member, PASSWORD).image(f"{org}/tool", "latest", "linux", "amd64")
    return World(server, admin, owner, member, outsider, org, image, signature, index, platforms)


def signed_in(browser: Browser, world: World, role: str, **options: object) -> tuple[BrowserContext, Page]:
    """A browser context of its own for the role (anonymous: not logged in)."""
    options.setdefault("viewport", {"width": 1366, "height": 900})
    context = browser.new_context(base_url=world.server.url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = context.new_page()
    user = world.user(role)
    if user is not None:
        log_in(page, user)
    return context, page
