"""Issue 13 with real engines: docker pulls through two proxy namespaces over two distribution
2.8.2 upstreams and a third over a second Dockyard with token auth (a private repository, pulled
with the proxy's credentials); an engine of the test's own whose ``registry-mirrors`` points at
Dockyard pulls a Docker Hub name (``NAME:TAG``, docker.io/library/NAME) through the instance
mirror; then the three upstreams stop and the namespaces' images pull again, from the cache
alone, after ``docker rmi``.

One namespace re-checks its tags at every pull (--ttl 0), so its second pull meets the outage
(connection refused) and serves the cached tag; the other is within its TTL and never asks.
Dockyard runs with token auth, and the engines pull anonymously: proxy namespaces are public,
and so are names the mirror answers. One test, so the servers and pushes serve every step.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, DockyardServer, busybox_rootfs_tar
from tests.proxy.conftest import PROXY_ENV, dockyard_cli
from tests.proxy.engine import Engine
from tests.proxy.upstreams import Distribution

pytestmark = pytest.mark.e2e  # docker, distribution and `dockyard serve`
UPSTREAM_PASSWORD = "upstream bot's password"


@pytest.fixture
def upstreams(tmp_path: Path) -> Iterator[tuple[Distribution, Distribution]]:
    with Distribution(tmp_path / "one") as one, Distribution(tmp_path / "two") as two:
        yield one, two


def _image(docker: Cli, marker: str) -> str:
    """A local image of its own (busybox plus a file), so each upstream holds other layers."""
    name = f"dockyard-proxy-test:{marker}"
    result = subprocess.run(
        [docker.path, "import", "-", name],
        input=busybox_rootfs_tar({"marker": marker.encode()}),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return name


@pytest.fixture
def upstream_dockyard(tmp_path: Path, template_database: Path) -> Iterator[DockyardServer]:
    """A Dockyard with token auth holding a private repository only its account ``robot`` pulls."""
    with DockyardServer(tmp_path / "upstream-dockyard", template=template_database) as server:
        dockyard_cli(server, "user", "create", "robot", "--password-stdin", input=UPSTREAM_PASSWORD)
        dockyard_cli(server, "repo", "create", "robot/app", "--private")
        yield server


def _push_to_dockyard(docker: Cli, server: DockyardServer, local: str, reference: str, config: Path) -> None:
    """Push as ``robot``, with a docker config of the test's own (the machine's keeps no login)."""
    own = Cli(docker.path, docker.base_args, {**docker.env, "DOCKER_CONFIG": str(config)})
    own("login", server.host, "-u", "robot", "--password-stdin", input=UPSTREAM_PASSWORD)
    own("tag", local, reference)
    own("push", reference)
    own("rmi", reference)


def test_docker_pulls_through_three_upstreams_a_mirror_and_from_cache_when_they_stop(
    tmp_path: Path,
    docker_cli: Cli,
    upstreams: tuple[Distribution, Distribution],
    upstream_dockyard: DockyardServer,
) -> None:
    one, two = upstreams
    marker = uuid.uuid4().hex[:10]
    markers = {"one": f"one-{marker}", "two": f"two-{marker}", "three": f"three-{marker}"}
    mirrored = f"dockyard-mirror-{marker}"
    ids = {}
    for namespace, upstream in (("one", one), ("two", two)):
        local = _image(docker_cli, markers[namespace])
        ids[namespace] = _image_id(docker_cli, local)
        docker_cli("tag", local, f"{upstream.host}/team/app:{marker}")
        docker_cli("push", f"{upstream.host}/team/app:{marker}")
        if namespace == "one":  # also a Docker Hub official name, for the mirror
            docker_cli("tag", local, f"{upstream.host}/library/{mirrored}:1")
            docker_cli("push", f"{upstream.host}/library/{mirrored}:1")
            docker_cli("rmi", f"{upstream.host}/library/{mirrored}:1")
        docker_cli("rmi", f"{upstream.host}/team/app:{marker}", local)  # gone from the engine
    local = _image(docker_cli, markers["three"])
    ids["three"] = _image_id(docker_cli, local)
    upstream_reference = f"{upstream_dockyard.host}/robot/app:{marker}"
    _push_to_dockyard(docker_cli, upstream_dockyard, local, upstream_reference, tmp_path / "docker-config")
    docker_cli("rmi", local)
    paths = {"one": "team/app", "two": "team/app", "three": "robot/app"}
    pulled: list[str] = []
    with DockyardServer(tmp_path / "dockyard", env=PROXY_ENV) as server:
        dockyard_cli(server, "proxy", "add", "one", one.url, "--ttl", "0")
        dockyard_cli(server, "proxy", "add", "two", f"{two.url}/")
        dockyard_cli(server, "proxy", "add", "--mirror", one.url)
        dockyard_cli(
            server,
            "proxy",
            "add",
            "three",
            upstream_dockyard.url,
            "--username",
            "robot",
            "--password-stdin",
            input=UPSTREAM_PASSWORD,
        )
        try:
            for namespace in ("one", "two", "three"):
                reference = f"{server.host}/{namespace}/{paths[namespace]}:{marker}"
                docker_cli("pull", reference)
                pulled.append(reference)
                assert _image_id(docker_cli, reference) == ids[namespace]
            engine = Engine(server.url)
            try:
                engine.cli("pull", f"{mirrored}:1", timeout=120)
                assert _image_id(engine.cli, f"{mirrored}:1") == ids["one"]
            finally:
                engine.stop()
            assert f"HEAD /v2/library/{mirrored}/manifests/1 200" in server.log_path.read_text()
            one.stop()
            two.stop()
            upstream_dockyard.stop()
            for reference in pulled:
                docker_cli("rmi", reference)
                docker_cli("pull", reference)  # from the cache alone
            for namespace, reference in zip(("one", "two", "three"), pulled, strict=True):
                assert _run(docker_cli, reference, "cat /marker") == markers[namespace]
            listed = dockyard_cli(server, "proxy", "list")
            assert "one" in listed and "two" in listed and "three" in listed
        finally:
            for reference in pulled:
                docker_cli("rmi", reference, check=False)


def _image_id(docker: Cli, reference: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()


def _run(docker: Cli, reference: str, command: str) -> str:
    return docker("run", "--rm", reference, "sh", "-c", command).stdout.strip()
