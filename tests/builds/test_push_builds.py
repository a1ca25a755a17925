"""A git push builds and publishes the image (issue 5), with the real engine and real git."""

from __future__ import annotations

import pytest

from tests.builds.conftest import (
    GitSource,
    builds,
    dockerfile,
    link,
    log_text,
    manifest_digest,
    tags,
    wait_for,
)
from tests.conftest import Cli, DockyardServer

pytestmark = pytest.mark.docker

PRINT_SOURCE = (
    "ARG SOURCE_BRANCH",
    "ARG SOURCE_COMMIT",
    "ARG DOCKER_TAG",
    'RUN echo "$SOURCE_BRANCH $SOURCE_COMMIT $DOCKER_TAG" > /built-from',
    'CMD ["cat", "/built-from"]',
)


def test_push_builds_an_image_that_pulls_and_runs(
    build_server: DockyardServer, source: GitSource, repository: str, docker_cli: Cli, base_image: str
) -> None:
    link(build_server, repository, source)
    commit = source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=base_image)}, "first image")
    output = source.push("main")
    assert "dockyard: 202" in output, output

    [build] = wait_for(build_server, repository, 1)
    log = log_text(build_server, build["id"])
    assert build["state"] == "success", log
    assert build["commit"] == commit and build["tags"] == ["latest"] and build["trigger"] == "github"
    assert str(build["digest"]).startswith("sha256:")
    assert build["started_at"] and build["pushing_at"] and build["finished_at"]
    assert "Step 1/" in log and "Pushed sha256:" in log
    assert manifest_digest(build_server, repository, "latest") == build["digest"]

    image = f"{build_server.host}/{repository}:latest"
    docker_cli("rmi", image, check=False)
    docker_cli("pull", image)
    try:
        ran = docker_cli("run", "--rm", "--network=none", image)
        assert ran.stdout.strip() == f"main {commit} latest"
    finally:
        docker_cli("rmi", image, check=False)


def test_tag_rule_with_regex_group_publishes_the_version(
    build_server: DockyardServer, source: GitSource, repository: str, base_image: str
) -> None:
    link(build_server, repository, source, r"tag:/^v([0-9.]+)$/={\1}")
    source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=base_image)}, "release")
    source.push("main")  # no rule for branches: nothing builds
    source.tag("v1.2")
    source.push("v1.2")

    [build] = wait_for(build_server, repository, 1)
    assert build["state"] == "success", log_text(build_server, build["id"])
    assert (build["source_type"], build["source_ref"], build["tags"]) == ("tag", "v1.2", ["1.2"])
    assert tags(build_server, repository) == ["1.2"]


def test_two_quick_pushes_make_two_builds_each_with_its_own_commit(
    build_server: DockyardServer, source: GitSource, repository: str, base_image: str
) -> None:
    link(build_server, repository, source)
    first = source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=base_image)}, "one")
    source.push("main")
    second = source.commit({"Dockerfile": dockerfile("RUN echo two", *PRINT_SOURCE, base=base_image)}, "two")
    source.push("main")

    done = wait_for(build_server, repository, 2)
    assert [b["commit"] for b in done] == [first, second]
    assert [b["state"] for b in done] == ["success", "success"], [
        log_text(build_server, b["id"]) for b in done
    ]


def test_broken_dockerfile_fails_with_dockers_error_and_keeps_latest(
    build_server: DockyardServer, source: GitSource, repository: str, base_image: str
) -> None:
    link(build_server, repository, source)
    source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=base_image)}, "good")
    source.push("main")
    [good] = wait_for(build_server, repository, 1)
    assert good["state"] == "success"

    source.commit({"Dockerfile": dockerfile("RUN exit 3", base=base_image)}, "broken")
    source.push("main")
    _, bad = wait_for(build_server, repository, 2)
    log = log_text(build_server, bad["id"])
    assert bad["state"] == "failed"
    assert "returned a non-zero code: 3" in log, log
    assert "docker build failed" in str(bad["error"])
    assert manifest_digest(build_server, repository, "latest") == good["digest"]


def test_skip_marker_builds_nothing(
    build_server: DockyardServer, source: GitSource, repository: str, base_image: str
) -> None:
    link(build_server, repository, source)
    source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=base_image)}, "docs only [skip build]")
    output = source.push("main")
    assert "skipped by the commit message" in output, output
    assert builds(build_server, repository) == []
