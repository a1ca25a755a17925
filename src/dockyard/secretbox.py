"""Encryption at rest for every secret Dockyard must read back, with one key kept out of the database.

    what is sealed                       where
    webhook URLs and signing secrets     webhooks.sealed_url, webhooks.sealed_secret   (hub)
    link credentials, link secrets,      build_links.credentials, .webhook_secret,     (builds)
    secret build variables               build_rules.variables, builds.variables

    the key     DOCKYARD_SECRETS_KEY_FILE, by default <data_dir>/keys/secrets.key
                a Fernet key (AES-128-CBC + HMAC-SHA256), file mode 0600 in a 0700 folder

A copy of ``dockyard.db`` (a backup, a stolen disk image, a local user who could read the file
before it was 0600) shows no secret without the key. To keep the two apart on disk as well, point
the setting at another volume or a secrets mount. Secrets Dockyard only compares (passwords,
access tokens, trigger tokens, session cookies) are hashed instead and never need this key.

The box is built once per process (``create_app``, or a CLI command) and passed down. A missing
key is made at first use: written to a private temporary file and hard-linked into place, which
fails if another worker got there first, so workers starting together end up with the same key.
A data folder from before this module kept the key in ``builds/secrets.key``, next to the build
workspaces; that key is moved here, so secrets sealed with it still open.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from dockyard.config import SECRETS_KEY_FILE, Settings
from dockyard.filemodes import create_private_file_once

KEY_FILE = SECRETS_KEY_FILE

LEGACY_KEY_FILE = Path("builds") / "secrets.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls.load(settings.secrets_key_path, legacy=settings.data_dir / LEGACY_KEY_FILE)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> SecretBox:
        """The box of a data folder whose key is at the default place."""
        return cls.load(data_dir / KEY_FILE, legacy=data_dir / LEGACY_KEY_FILE)

    @classmethod
    def load(cls, path: Path, *, legacy: Path | None = None) -> SecretBox:
        if not path.exists():
            _create(path, legacy)
        return cls(path.read_bytes().strip())

    def seal(self, value: Any) -> bytes:
        """Any JSON value, encrypted and authenticated."""
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, token: bytes | None, default: Any = None) -> Any:
        if token is None:
            return default
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ValueError(
                "a sealed secret does not open with this key: was DOCKYARD_SECRETS_KEY_FILE replaced?"
            ) from None

    def seal_text(self, text: str) -> bytes:
        return self.seal(text)

    def open_text(self, token: bytes) -> str:
        value = self.open(token)
        if not isinstance(value, str):
            raise ValueError("a sealed secret is not text")
        return value


def _create(path: Path, legacy: Path | None) -> None:
    """A new key at ``path``: the legacy key's bytes when there is one, else a fresh key."""
    old = _read(legacy) if legacy is not None else None
    key = old or Fernet.generate_key()
    create_private_file_once(path, key)
    if old is not None and legacy is not None and _read(legacy) == path.read_bytes():
        legacy.unlink(missing_ok=True)  # moved, not copied: no second copy next to the builds


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
