"""Where things live in the storage backend.

    <root>/
    ├── blobs/
    │   └── <algorithm>/<first two hex>/<hex>/data    content-addressed bytes, shared by
    │                                                 every repository that links them
    └── uploads/
        └── <uuid>/
            ├── data                                  bytes received so far
            └── info.json                             {"repository", "repository_id",
                                                      "repository_created", "started_at"}

Which repository may read which blob (the links), manifests and tags live in the
metadata database, never here: a blob file alone grants nothing. The disk reserve
(``space.py``) sits beside the database in the data folder, not in this tree.
"""

from __future__ import annotations

from dockyard.digests import Digest


def blob_data(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"


def upload_dir(upload_id: str) -> str:
    return f"uploads/{upload_id}"


def upload_data(upload_id: str) -> str:
    return f"uploads/{upload_id}/data"


def upload_info(upload_id: str) -> str:
    return f"uploads/{upload_id}/info.json"


UPLOADS_ROOT = "uploads"
