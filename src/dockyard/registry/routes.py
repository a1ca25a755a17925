"""The /v2/ route table. Names contain slashes, so they are matched as paths;
the more specific routes come first."""

from __future__ import annotations

from starlette.routing import Route

from dockyard.registry.handlers import base, blobs, manifests, referrers, tags, uploads

NAME = "/v2/{name:path}"


def registry_routes() -> list[Route]:
    return [
        Route("/v2/", base.version_check, methods=["GET"]),
        Route("/v2/_catalog", base.catalog, methods=["GET"]),
        Route(f"{NAME}/tags/list", tags.list_tags, methods=["GET"]),
        Route(f"{NAME}/manifests/{{reference}}", manifests.get_manifest, methods=["GET", "HEAD"]),
        Route(f"{NAME}/manifests/{{reference}}", manifests.put_manifest, methods=["PUT"]),
        Route(f"{NAME}/manifests/{{reference}}", manifests.delete_manifest, methods=["DELETE"]),
        Route(f"{NAME}/blobs/uploads/", uploads.start_upload, methods=["POST"]),
        Route(f"{NAME}/blobs/uploads", uploads.start_upload, methods=["POST"]),
        Route(f"{NAME}/blobs/uploads/{{uuid}}", uploads.upload_status, methods=["GET"]),
        Route(f"{NAME}/blobs/uploads/{{uuid}}", uploads.patch_upload, methods=["PATCH"]),
        Route(f"{NAME}/blobs/uploads/{{uuid}}", uploads.finish_upload, methods=["PUT"]),
        Route(f"{NAME}/blobs/uploads/{{uuid}}", uploads.cancel_upload, methods=["DELETE"]),
        Route(f"{NAME}/blobs/{{digest}}", blobs.get_blob, methods=["GET", "HEAD"]),
        Route(f"{NAME}/blobs/{{digest}}", blobs.delete_blob, methods=["DELETE"]),
        Route(f"{NAME}/referrers/{{digest}}", referrers.list_referrers, methods=["GET"]),
    ]
