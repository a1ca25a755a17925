from __future__ import annotations

from dockyard.registry.errors import ErrorCode, RegistryError

# The OCI Distribution Spec v1.1 error code table.
SPEC_CODES = {
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
}
# HTTP statuses the spec's endpoint table and Docker's registry give for each code.
STATUSES = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "MANIFEST_UNKNOWN": 404,
    "NAME_UNKNOWN": 404,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    "DIGEST_INVALID": 400,
    "MANIFEST_INVALID": 400,
    "NAME_INVALID": 400,
    "SIZE_INVALID": 400,
    "BLOB_UPLOAD_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
}


def test_every_spec_code_is_in_the_table() -> None:
    assert {code.name for code in ErrorCode} >= SPEC_CODES


def test_statuses_match_the_spec() -> None:
    for name, status in STATUSES.items():
        assert ErrorCode[name].status == status, name


def test_body_has_code_message_and_detail() -> None:
    body = RegistryError(ErrorCode.BLOB_UNKNOWN, {"digest": "sha256:x"}).body()
    assert body == {
        "errors": [
            {"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": {"digest": "sha256:x"}}
        ]
    }


def test_wire_codes_are_spec_or_docker_codes() -> None:
    docker_extras = {"TAG_INVALID", "RANGE_INVALID", "PAGINATION_NUMBER_INVALID", "UNAVAILABLE"}
    for code in ErrorCode:
        assert code.spec_code in SPEC_CODES | docker_extras, code
