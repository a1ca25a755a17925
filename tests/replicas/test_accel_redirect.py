"""DOCKYARD_ACCEL_REDIRECT: blob GETs and HEADs that pass the access checks answer with an
X-Accel-Redirect to the blob's file, for nginx to send; a blob the repository does not link gets
the registry's 404; an S3 store refuses the setting at start-up. (The real nginx sending the
files is tests/replicas/test_topology.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dockyard.config import Settings
from tests.conftest import OPEN_REGISTRY
from tests.inprocess import InProcessDockyard

pytestmark = pytest.mark.integration


def test_a_blob_get_answers_with_the_file_for_nginx(tmp_path: Path, template_database: Path) -> None:
    data = b"layer bytes" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    env = {**OPEN_REGISTRY, "DOCKYARD_ACCEL_REDIRECT": "/internal-blobs/"}
    with InProcessDockyard(tmp_path / "data", env, template=template_database) as server:
        pushed = server.http.post("/v2/accel/app/blobs/uploads/", params={"digest": digest}, content=data)
        assert pushed.status_code == 201, pushed.text
        for method in ("GET", "HEAD"):
            answer = server.http.request(method, f"/v2/accel/app/blobs/{digest}")
            assert answer.status_code == 200 and answer.content == b""
            hexdigest = digest.removeprefix("sha256:")
            path = f"blobs/sha256/{hexdigest[:2]}/{hexdigest}/data"
            assert answer.headers["x-accel-redirect"] == "/internal-blobs/" + path
            assert (tmp_path / "data" / "storage" / path).read_bytes() == data  # what nginx's alias finds
            assert answer.headers["docker-content-digest"] == digest
            assert answer.headers["content-type"] == "application/octet-stream"
        refused = server.http.get(f"/v2/accel/other/blobs/{digest}")
        assert refused.status_code == 404 and "x-accel-redirect" not in refused.headers
        assert refused.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_the_setting_is_checked_at_start_up() -> None:
    assert Settings(accel_redirect=" /internal-blobs/ ").accel_redirect == "/internal-blobs/"
    for bad in ("internal-blobs/", "/internal-blobs", "/a b/", "/../x/", "http://x/"):
        with pytest.raises(ValueError, match="accel_redirect must be a location path"):
            Settings(accel_redirect=bad)
    with pytest.raises(ValueError, match=r"DOCKYARD_ACCEL_REDIRECT.*DOCKYARD_STORAGE=s3"):
        Settings(accel_redirect="/internal-blobs/", storage="s3", s3_bucket="b")
