"""Encryption at rest for link credentials, webhook secrets and secret build variables.

    <data_dir>/builds/                  mode 0700
        secrets.key                     a Fernet key (AES-128-CBC + HMAC-SHA256), mode 0600

Made at first use; written to a private temporary file and hard-linked into place, so server
workers starting together all end up with the same key.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = Path("builds") / "secrets.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> SecretBox:
        path = data_dir / KEY_FILE
        if not path.exists():
            _create(path)
        return cls(path.read_bytes().strip())

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, token: bytes | None, default: Any = None) -> Any:
        if token is None:
            return default
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ValueError("a build secret does not decrypt with this data dir's key") from None


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(Fernet.generate_key())
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
