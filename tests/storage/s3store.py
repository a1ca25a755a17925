"""The real S3 store the tests use: ``../shared/s3/start.sh`` (OpenStack Swift with s3api, from
Debian packages, on 127.0.0.1:8080), started on demand and left running for the next session.

    s3_environment() -> dict[str, str]      AWS_ENDPOINT_URL, keys and region; skips without the
                                            store (fails under CI=true, where .ci/run starts it)
    S3Bucket(env)                           a bucket of the test session's own, emptied and removed
                                            at the end
"""

from __future__ import annotations

import functools
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci

START = Path(__file__).resolve().parents[2].parent / "shared" / "s3" / "start.sh"
KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def _unavailable(why: str) -> None:
    if in_ci():
        pytest.fail(f"S3 store unavailable: {why} (CI=true: .ci/run starts it)")
    pytest.skip(f"S3 store unavailable: {why}")


@functools.cache
def _started() -> dict[str, str] | str:
    if all(os.environ.get(key) for key in KEYS):
        return {key: os.environ[key] for key in KEYS}
    if not START.exists():
        return f"{START} is missing"
    if os.geteuid() != 0:
        return "start.sh needs root"
    # Idempotent: prints the export lines at once when the store is up, else starts it (~5 s).
    done = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        return f"start.sh failed: {done.stderr[-2000:]}"
    env = {}
    for line in done.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value
    return {key: env[key] for key in KEYS}


def s3_environment() -> dict[str, str]:
    started = _started()
    if isinstance(started, str):
        _unavailable(started)
        raise AssertionError  # unreachable: skip or fail raised
    return started


def settings_env(env: dict[str, str], bucket: str, **extra: str) -> dict[str, str]:
    """DOCKYARD_* variables for a server on this store."""
    return {
        "DOCKYARD_STORAGE": "s3",
        "DOCKYARD_S3_BUCKET": bucket,
        "DOCKYARD_S3_ENDPOINT_URL": env["AWS_ENDPOINT_URL"],
        "DOCKYARD_S3_REGION": env["AWS_DEFAULT_REGION"],
        "DOCKYARD_S3_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "DOCKYARD_S3_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        **extra,
    }


def driver_options(env: dict[str, str], bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region": env["AWS_DEFAULT_REGION"],
        "access_key_id": env["AWS_ACCESS_KEY_ID"],
        "secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        **extra,
    }


def new_bucket_name() -> str:
    return f"dockyard-test-{uuid.uuid4().hex[:12]}"


def remove_bucket(env: dict[str, str], bucket: str) -> None:
    """Empty the bucket (whatever a failed test left) and remove it."""
    from dockyard.storage.s3 import S3Options, make_client

    client = make_client(S3Options(**driver_options(env, bucket)))
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        client.delete_bucket(Bucket=bucket)
    except client.exceptions.NoSuchBucket:
        pass
