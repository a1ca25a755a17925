"""The runner's parts without Docker: source URLs, .dockerignore, what a Dockerfile pulls,
paths inside the checkout, and the archives going to and coming from the engine."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import anyio
import pytest

from dockyard.builds.archive import DockerIgnore, TarOptions, extract, tar_stream
from dockyard.builds.dockerfile import declared_args, image_domain, image_repository, references
from dockyard.builds.plan import Plan
from dockyard.builds.runtime import Masker, StepFailed, link_secrets
from dockyard.builds.sources import SourceError, parse, same_origin

# -- source URLs ------------------------------------------------------------------------------------


def test_credentials_are_split_off_an_http_url() -> None:
    parsed = parse("https://me:p%40ss@Git.Example.com:8443/o/r.git")
    assert parsed.credentials == {"username": "me", "password": "p@ss"}
    assert parsed.source.url == "https://git.example.com:8443/o/r.git"
    assert parsed.source.origin_url == "https://git.example.com:8443/"


def test_scp_like_and_ssh_urls_share_an_origin() -> None:
    scp, url = parse("git@host.example:o/r.git").source, parse("ssh://git@host.example/o/x.git").source
    assert scp.url == "git@host.example:o/r.git" and same_origin(scp, url)
    assert not same_origin(scp, parse("ssh://git@host.example:2222/o/x.git").source)
    assert not same_origin(parse("https://h/a").source, parse("http://h/a").source)


@pytest.mark.parametrize(
    "url",
    ["/srv/r.git", "file:///srv/r.git", "../r.git", "ext::sh", "h:-upload", "ftp://h/r", "git://u:p@h/r",
     "https://h/r?x=1", "ssh://-oProxyCommand=x/r", "https://h_h/r", "git@h:"],
)  # fmt: skip
def test_sources_that_are_not_fetched(url: str) -> None:
    with pytest.raises(SourceError):
        parse(url)


# -- secrets in logs --------------------------------------------------------------------------------


def test_masks_cover_encoded_forms() -> None:
    mask = Masker(link_secrets({"username": "u", "password": "p@ss word"}))
    assert "p@ss" not in mask("https://u:p%40ss%20word@h/ and p@ss word")
    assert "cDpAc3Mgd29yZA" not in mask("Authorization: Basic dTpwQHNzIHdvcmQ=")


# -- .dockerignore ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),
        ("**/*.md", "docs/README.md", True),
        ("docs", "docs/a/b.txt", True),
        ("docs\n!docs/keep.txt", "docs/keep.txt", False),
        ("/build", "build/x", True),
        ("# comment\n\ntmp?", "tmp1", True),
        ("a/**/c", "a/c", True),
        ("a/**/c", "a/x/y/c", True),
    ],
)
def test_dockerignore(patterns: str, path: str, excluded: bool) -> None:
    assert DockerIgnore.parse(patterns).excluded(path) is excluded


# -- Dockerfiles ------------------------------------------------------------------------------------


DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=reg.example:5000/team/base
ARG TAG=1
FROM --platform=linux/amd64 ${BASE}:${TAG} AS build
ARG TAG
ENV WHERE=http://files.example
RUN make \\
    all
FROM scratch
COPY --from=build /out /out
COPY --from=reg.example:5000/team/tools:2 /bin/t /bin/t
ADD ["local.tar", "/"]
ADD $WHERE/x.tgz /x
"""


def test_references_substitute_arguments() -> None:
    found = references(DOCKERFILE, {"TAG": "7"})
    assert found.images == ["reg.example:5000/team/base:7", "reg.example:5000/team/tools:2"]
    assert found.urls == ["$WHERE/x.tgz"]
    assert declared_args(DOCKERFILE) == {"BASE", "TAG"}
    assert image_domain(found.images[0]) == "reg.example:5000" and image_domain("alpine:3") is None
    assert image_repository("reg.example:5000/team/base:7") == "team/base"
    assert image_repository("localhost:5000/base@sha256:" + "0" * 64) == "base"


def test_a_url_hidden_in_an_argument_is_still_a_url() -> None:
    text = "ARG U=http://169.254.169.254/latest\nFROM scratch\nARG U\nADD ${U} /x\n"
    assert references(text, {}).urls == ["${U}"]


# -- paths inside the checkout ----------------------------------------------------------------------


def test_dockerfile_and_context_must_resolve_inside(tmp_path: Path) -> None:
    checkout = tmp_path / "src"
    (checkout / "app").mkdir(parents=True)
    (checkout / "app" / "Dockerfile").write_text("FROM scratch\n")
    (checkout / "out").symlink_to(tmp_path)
    (checkout / "Dockerfile").symlink_to("app/Dockerfile")
    (checkout / "app" / "hooks").mkdir()
    (checkout / "app" / "hooks" / "pre_build").write_text("true\n")
    plan = Plan.of(checkout, ".", "Dockerfile")
    assert plan.dockerfile_name == "app/Dockerfile" and plan.hooks == ()
    assert Plan.of(checkout, "app", "Dockerfile").hooks == ("pre_build",)
    for context, dockerfile in (("out", "Dockerfile"), (".", "../x"), ("/etc", "Dockerfile")):
        with pytest.raises(StepFailed):
            Plan.of(checkout, context, dockerfile)


# -- archives ---------------------------------------------------------------------------------------


def _collect(root: Path, options: TarOptions) -> bytes:
    async def read() -> bytes:
        return b"".join([piece async for piece in tar_stream(root, options)])

    return anyio.run(read)


def test_the_context_keeps_links_as_links(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host\n")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "link").symlink_to(tmp_path / "secret")
    (context / "a.md").write_text("x")
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / ".dockerignore").write_text("*.md\nDockerfile\n")
    data = _collect(
        context, TarOptions(ignore=DockerIgnore.parse("*.md\nDockerfile\n"), keep=frozenset({"Dockerfile"}))
    )
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"link", "Dockerfile", ".dockerignore"}
    assert members["link"].issym() and members["link"].linkname == str(tmp_path / "secret")


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, content in members:
            info.size = len(content) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


def test_modes_are_gits_whatever_the_umask(tmp_path: Path) -> None:
    """Dockyard runs with umask 077: the checkout's 0600 and 0700 still reach the engine as git's
    0644 and 0755, so images do not depend on the server's umask."""
    context = tmp_path / "ctx"
    context.mkdir(mode=0o700)
    (context / "data").write_text("x")
    (context / "data").chmod(0o600)
    (context / "run").write_text("x")
    (context / "run").chmod(0o4700)
    with tarfile.open(fileobj=io.BytesIO(_collect(context, TarOptions()))) as tar:
        assert {m.name: m.mode for m in tar.getmembers()} == {"data": 0o644, "run": 0o755}


def test_what_a_hook_hands_back_cannot_reach_the_host(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    good = _tar(
        (_info("build/", tarfile.DIRTYPE), b""),
        (_info("build/run.sh", mode=0o4755), b"echo\n"),
        (_info("build/etc", tarfile.SYMTYPE, str(outside)), b""),
        (_info("build/copy", tarfile.LNKTYPE, "build/run.sh"), b""),
        (_info("build/fifo", tarfile.FIFOTYPE), b""),
    )
    (tmp_path / "good.tar").write_bytes(good)
    extract(tmp_path / "good.tar", tmp_path / "back", strip="build", limit=1024)
    back = tmp_path / "back"
    assert (back / "run.sh").stat().st_mode & 0o7777 == 0o755
    assert (back / "etc").is_symlink() and (back / "copy").read_text() == "echo\n"
    assert not (back / "fifo").exists()
    hostile = {
        "through-a-link": _tar(
            (_info("build/etc", tarfile.SYMTYPE, str(outside)), b""), (_info("build/etc/x"), b"x")
        ),
        "climbing": _tar(
            (_info("build/../../x"), b"x"),
        ),
        "too-big": _tar(
            (_info("build/big"), b"x" * 2048),
        ),
    }
    for name, data in hostile.items():
        (tmp_path / f"{name}.tar").write_bytes(data)
        with pytest.raises(StepFailed):
            extract(tmp_path / f"{name}.tar", tmp_path / f"back-{name}", strip="build", limit=1024)
    assert os.listdir(outside) == []
