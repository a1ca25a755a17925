"""A build reads only its own checkout (issue 8, item 3).

The Dockerfile, the context and every file they name resolve inside the clone after symlinks are
followed; local paths and file:// are no sources, not even for a submodule, not even in a link
stored before they were refused; ADD downloads nothing. The secret is a file on the host that the
test makes: it must not show in the log, and no image holding it may be pushed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builds.conftest import GitSource, api_link, dockerfile, dockyard_cli, tags
from tests.conftest import Cli, DockyardServer, GitDaemon, require_tool
from tests.security._build_sandbox import (
    Listener,
    add_gitlink,
    build_of,
    host_secret,
    link_api,
    push_event,
    rewrite_source,
    sandbox_server,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def files_server(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[tuple[DockyardServer, str]]:
    with sandbox_server(tmp_path_factory.mktemp("files") / "data", docker_cli) as running:
        yield running


@pytest.fixture
def source(tmp_path: Path, git_daemon: GitDaemon) -> GitSource:
    return GitSource(tmp_path / "git", require_tool("git"), git_daemon)


def _repository() -> str:
    return f"files/app-{uuid.uuid4().hex[:8]}"


def test_a_dockerfile_linked_to_a_host_file_is_refused_unread(
    files_server: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """A Dockerfile that is a symlink to a host file: the build fails naming the reason, and not
    one line of the file shows (docker would print it as an unknown instruction)."""
    server, _ = files_server
    folder, secret = host_secret(tmp_path)
    repository = _repository()
    api_link(server, repository, source)
    source.commit({}, "Dockerfile -> host file", symlinks={"Dockerfile": str(folder / "secret.txt")})
    source.push("main")
    build, log = build_of(server, repository)
    assert secret not in log and secret not in str(build["error"])
    assert build["state"] == "failed" and "leads out of the source" in str(build["error"]), log


def test_a_context_linked_to_a_host_folder_is_refused(
    files_server: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """A context folder that is a symlink to a host folder (one holding a Dockerfile that copies
    everything): the build fails, nothing of the folder reaches the log or the registry."""
    server, base = files_server
    folder, secret = host_secret(tmp_path)
    (folder / "Dockerfile").write_text(dockerfile("COPY secret.txt /stolen", "RUN cat /stolen", base=base))
    repository = _repository()
    api_link(server, repository, source, context="app")
    source.commit({"README": "app is elsewhere\n"}, "context -> host folder", symlinks={"app": str(folder)})
    source.push("main")
    build, log = build_of(server, repository)
    assert secret not in log
    assert build["state"] == "failed" and "leads out of the source" in str(build["error"]), log
    assert tags(server, repository) == []


def test_symlinks_inside_the_context_stay_links(
    files_server: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """A file in the context that links to a host file goes to the engine as the link itself (our
    context archiver never follows links): COPY finds nothing behind it."""
    server, base = files_server
    folder, secret = host_secret(tmp_path)
    repository = _repository()
    api_link(server, repository, source)
    lines = ("COPY leak /leak", "RUN cat /leak || true")
    source.commit({"Dockerfile": dockerfile(*lines, base=base)}, "leak", symlinks={"leak": str(folder)})
    source.push("main")
    _, log = build_of(server, repository)
    assert secret not in log


@pytest.mark.parametrize("scheme", ["path", "file"])
def test_a_submodule_from_the_hosts_disk_is_refused(
    files_server: tuple[DockyardServer, str], source: GitSource, tmp_path: Path, scheme: str
) -> None:
    """A submodule whose URL is a path (or file://) on the server: refused before git fetches it,
    so the host repository's files never reach the image or the log."""
    server, base = files_server
    _, secret = host_secret(tmp_path)
    hostrepo = GitSource(tmp_path / "host-repo", source.git, source.daemon)
    commit = hostrepo.commit({"secret.txt": secret + "\n"}, "lives on the server")
    hostrepo.push("main")
    url = str(hostrepo.bare) if scheme == "path" else f"file://{hostrepo.bare}"
    repository = _repository()
    api_link(server, repository, source)
    add_gitlink(source, "sub", url, commit)
    lines = ("COPY sub /sub", "RUN cat /sub/secret.txt")
    source.commit({"Dockerfile": dockerfile(*lines, base=base)}, "with a submodule")
    source.push("main")
    build, log = build_of(server, repository)
    assert secret not in log
    assert build["state"] == "failed" and "submodule 'sub' is refused" in str(build["error"]), log


def test_local_sources_are_refused_at_every_door_and_at_fetch(
    files_server: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """A local path or file:// is refused by the CLI (the administrator's door) and the API; a link
    stored before that (a local path in the database) fails at fetch time."""
    server, base = files_server
    repository = _repository()
    for url in (str(source.bare), f"file://{source.bare}"):
        refused = dockyard_cli(server, "build", "link", repository, url, check=False)
        assert (
            refused.returncode != 0 and "local paths are not build sources" in refused.stderr + refused.stdout
        )
    made = link_api(server, repository, source.url)
    commit = source.commit({"Dockerfile": dockerfile(base=base)}, "fine")
    source._run("push", "-q", "origin", "main")
    rewrite_source(server, repository, str(source.bare))
    push_event(made, commit)
    build, log = build_of(server, repository)
    assert build["state"] == "failed" and "local paths are not build sources" in str(build["error"]), log


def test_add_from_a_url_is_refused(
    files_server: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """`ADD <url>` would make the engine download from the host's own network (loopback, metadata):
    the build fails before the engine sees it, and nothing connects to the listener."""
    server, base = files_server
    listener = Listener()
    try:
        repository = _repository()
        api_link(server, repository, source)
        lines = ("ARG WHERE=127.0.0.1", f"ADD http://${{WHERE}}:{listener.port}/secret /secret")
        source.commit({"Dockerfile": dockerfile(*lines, base=base)}, "download")
        source.push("main")
        build, log = build_of(server, repository)
    finally:
        listener.close()
    assert listener.received == [], "the engine fetched the ADD URL"
    assert build["state"] == "failed" and "ADD http://" in str(build["error"]), log
