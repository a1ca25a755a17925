"""A git push builds and publishes the image (issue 5), with the real engine and real git."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.builds.conftest import (
    GitSource,
    api_link,
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
    build_server: DockyardServer, source: GitSource, repository: str, docker_cli: Cli, build_base: str
) -> None:
    link(build_server, repository, source)
    commit = source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=build_base)}, "first image")
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
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api_link(build_server, repository, source, r"tag:/^v([0-9.]+)$/={\1}")
    source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=build_base)}, "release")
    source.push("main")  # no rule for branches: nothing builds
    source.tag("v1.2")
    source.push("v1.2")

    [build] = wait_for(build_server, repository, 1)
    assert build["state"] == "success", log_text(build_server, build["id"])
    assert (build["source_type"], build["source_ref"], build["tags"]) == ("tag", "v1.2", ["1.2"])
    assert tags(build_server, repository) == ["1.2"]


def test_two_quick_pushes_make_two_builds_each_with_its_own_commit(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api_link(build_server, repository, source)
    first = source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=build_base)}, "one")
    source.push("main")
    second = source.commit({"Dockerfile": dockerfile("RUN echo two", *PRINT_SOURCE, base=build_base)}, "two")
    source.push("main")

    done = wait_for(build_server, repository, 2)
    assert [b["commit"] for b in done] == [first, second]
    assert [b["state"] for b in done] == ["success", "success"], [
        log_text(build_server, b["id"]) for b in done
    ]


def test_broken_dockerfile_fails_with_dockers_error_and_keeps_latest(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api_link(build_server, repository, source)
    source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=build_base)}, "good")
    source.push("main")
    [good] = wait_for(build_server, repository, 1)
    assert good["state"] == "success"

    source.commit({"Dockerfile": dockerfile("RUN exit 3", base=build_base)}, "broken")
    source.push("main")
    _, bad = wait_for(build_server, repository, 2)
    log = log_text(build_server, bad["id"])
    assert bad["state"] == "failed"
    assert "returned a non-zero code: 3" in log, log
    assert "docker build failed" in str(bad["error"])
    assert manifest_digest(build_server, repository, "latest") == good["digest"]


def test_skip_marker_builds_nothing(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api_link(build_server, repository, source)
    source.commit({"Dockerfile": dockerfile(*PRINT_SOURCE, base=build_base)}, "docs only [skip build]")
    output = source.push("main")
    assert "skipped by the commit message" in output, output
    assert builds(build_server, repository) == []


def test_secret_build_argument_is_masked_in_the_log(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    variables = (("API_TOKEN", "s3cr3t-value-42", True), ("MODE", "fast", False))
    api_link(build_server, repository, source, variables=variables)
    lines = ("ARG API_TOKEN", "ARG MODE", 'RUN echo "token=$API_TOKEN mode=$MODE"')
    source.commit({"Dockerfile": dockerfile(*lines, base=build_base)}, "uses a secret")
    source.push("main")
    [build] = wait_for(build_server, repository, 1)
    log = log_text(build_server, build["id"])
    assert build["state"] == "success", log
    assert "token=******** mode=fast" in log and "s3cr3t-value-42" not in log


def test_missing_commit_and_unreachable_source_fail_with_the_reason(
    build_server: DockyardServer, source: GitSource, repository: str, tmp_path: Path, build_base: str
) -> None:
    made = api_link(build_server, repository, source, hook=False)
    source.commit({"Dockerfile": dockerfile(base=build_base)}, "exists")
    source.push("main")  # no hook: builds nothing, the source just has a main branch
    missing = "1234567" * 5 + "89abc"
    body = json.dumps(
        {"ref": "refs/heads/main", "after": missing, "head_commit": {"message": "gone"}}
    ).encode()
    signature = "sha256=" + hmac.new(made.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
    assert httpx.post(made.github_url, content=body, headers=headers).status_code == 202

    [failed] = wait_for(build_server, repository, 1)
    assert failed["commit"] == missing
    assert failed["state"] == "failed" and "git checkout failed" in str(failed["error"])
    assert missing in log_text(build_server, failed["id"])

    elsewhere = f"{repository}-gone"
    gone = GitSource(tmp_path / "gone", source.git, source.daemon)
    again = api_link(build_server, elsewhere, gone)
    shutil.rmtree(gone.bare)
    body = json.dumps({"ref": "refs/heads/main", "after": missing, "head_commit": {"message": "x"}}).encode()
    signature = "sha256=" + hmac.new(again.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
    assert httpx.post(again.github_url, content=body, headers=headers).status_code == 202
    [unreachable] = wait_for(build_server, elsewhere, 1)
    assert unreachable["state"] == "failed" and "git fetch failed" in str(unreachable["error"])
    assert "not exported" in log_text(build_server, unreachable["id"])


def test_context_folder_and_hooks_get_docker_hubs_variables(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api_link(build_server, repository, source, context="app")
    hook = 'echo "hook: $SOURCE_BRANCH $SOURCE_COMMIT $DOCKER_TAG $DOCKERFILE_PATH $IMAGE_NAME"\n'
    commit = source.commit(
        {
            "app/Dockerfile": dockerfile("COPY data /data", base=build_base),
            "app/data": "x",
            "app/hooks/pre_build": hook,
        },
        "in a folder",
    )
    source.push("main")
    [build] = wait_for(build_server, repository, 1)
    log = log_text(build_server, build["id"])
    assert build["state"] == "success", log
    image = f"{build_server.host}/{repository}:latest"
    assert f"hook: main {commit} latest Dockerfile {image}" in log
