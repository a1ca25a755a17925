"""The S3 backend (boto3): ``driver.py`` the driver and the bucket's layout, ``writer.py``
appending in segments, ``client.py`` the client, its options and the error table."""

from __future__ import annotations

from dockyard.storage.s3.client import S3Options, make_client, mapped
from dockyard.storage.s3.driver import S3Driver
from dockyard.storage.s3.writer import S3Writer

__all__ = ["S3Driver", "S3Options", "S3Writer", "make_client", "mapped"]
