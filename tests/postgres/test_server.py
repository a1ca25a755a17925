"""A real `dockyard serve` on PostgreSQL and S3 (the scaled-out deployment): it migrates the empty
database itself, takes a push (blob, config, manifest, tag) and serves it back."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import httpx

from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.postgres.fixtures import _admin, admin_url, with_database
from tests.storage.s3store import new_bucket_name, remove_bucket, s3_environment, settings_env

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_blob(http: httpx.Client, repo: str, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    answer = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert answer.status_code == 201, answer.text
    return {"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}


def test_a_server_on_postgresql_and_s3_takes_a_push_and_serves_it(tmp_path: Path) -> None:
    env, bucket = s3_environment(), new_bucket_name()
    name = f"dockyard_server_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    database = {"DOCKYARD_DATABASE_URL": with_database(admin_url(), name)}
    try:
        with (
            DockyardServer(
                tmp_path / "data", env={**OPEN_REGISTRY, **database, **settings_env(env, bucket)}
            ) as server,
            httpx.Client(base_url=server.url, timeout=60) as http,
        ):
            layer = push_blob(http, "pg/app", os.urandom(3000))
            config = push_blob(http, "pg/app", b'{"architecture":"amd64","os":"linux"}')
            manifest = json.dumps(
                {"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": [layer]}
            ).encode()
            put = http.put("/v2/pg/app/manifests/v1", content=manifest, headers={"Content-Type": MANIFEST})
            assert put.status_code == 201, put.text
            got = http.get("/v2/pg/app/manifests/v1", headers={"Accept": MANIFEST})
            assert got.status_code == 200 and got.content == manifest
            assert http.get("/v2/pg/app/tags/list").json() == {"name": "pg/app", "tags": ["v1"]}
            assert http.get(f"/v2/pg/app/blobs/{layer['digest']}").headers["Content-Length"] == "3000"
            assert "pg/app" in http.get("/v2/_catalog").json()["repositories"]
        assert not (tmp_path / "data" / "dockyard.db").exists()  # nothing went to SQLite
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        remove_bucket(env, bucket)
