"""The token signing key: one EC P-256 key (ES256), made at first start, kept in the data folder.

    <data_dir>/auth/                    mode 0700
        token-signing-key.pem           PKCS#8 private key, mode 0600

Workers of one server start at the same time; the key is written to a private temporary
file and then hard-linked into place, which fails if another worker got there first, so
every worker ends up loading the same key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dockyard.filemodes import create_private_file_once

ALGORITHM = "ES256"
KEY_FILE = Path("auth") / "token-signing-key.pem"


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    @classmethod
    def from_private_key(cls, private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
        return cls(private_key, libtrust_key_id(private_key.public_key()))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(ec.generate_private_key(ec.SECP256R1()))


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Docker's libtrust key id: SHA-256 of the DER public key, 240 bits, base32, in groups of four.

    The form distribution's token verifier matches a ``kid`` against, e.g. ``ABCD:EFGH:...`` (12 groups).
    """
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def load_or_create(data_dir: Path, path: Path | None = None) -> SigningKey:
    """The key at ``path`` (DOCKYARD_TOKEN_SIGNING_KEY_FILE: it must exist), else the data
    folder's own, made on first use."""
    if path is None:
        path = data_dir / KEY_FILE
        if not path.exists():
            _create(path)
    elif not path.is_file():
        raise ValueError(f"DOCKYARD_TOKEN_SIGNING_KEY_FILE: {path} is not a file")
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name != "secp256r1":
        raise ValueError(f"{path} is not an EC P-256 private key")
    return SigningKey.from_private_key(private_key)


def _create(path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    create_private_file_once(path, pem)
