"""Tokens the server never issued: expired, for another audience or issuer, forged, unsigned.

Built from a real token the server issued (its header and claims), so they track the server's
format; the ones that must verify except for one defect are signed with the server's own key,
read from the data folder (<data_dir>/auth/token-signing-key.pem) as an attacker with a stolen
backup could not, but as the test must to isolate that one defect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNING_KEY = Path("auth") / "token-signing-key.pem"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature)}"


def server_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((data_dir / SIGNING_KEY).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def decode(token: str, data_dir: Path) -> dict[str, Any]:
    """Verify a token the server issued, with its public key, and return its claims."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] in {"ES256", "RS256"}, header
    assert header.get("kid"), f"tokens must name their key (kid): {header}"
    claims: dict[str, Any] = jwt.decode(
        token,
        server_key(data_dir).public_key(),
        algorithms=[header["alg"]],
        options={"verify_aud": False, "verify_iss": False},
    )
    return claims


class Forger:
    """Derives defective tokens from one genuine token."""

    def __init__(self, genuine: str, data_dir: Path) -> None:
        self.genuine = genuine
        self.header = jwt.get_unverified_header(genuine)
        self.claims = jwt.decode(genuine, options={"verify_signature": False})
        self.key = server_key(data_dir)

    def signed(self, key: Any = None, **changes: Any) -> str:
        """Re-signed with the server's key (or `key`) after applying `changes` to the claims."""
        claims = {**self.claims, **changes}
        headers = {"kid": self.header["kid"]}
        return jwt.encode(claims, key or self.key, algorithm=self.header["alg"], headers=headers)

    def expired(self) -> str:
        now = int(time.time())
        return self.signed(iat=now - 7200, nbf=now - 7200, exp=now - 3600)

    def not_yet_valid(self) -> str:
        now = int(time.time())
        return self.signed(iat=now + 3600, nbf=now + 3600, exp=now + 7200)

    def wrong_audience(self) -> str:
        return self.signed(aud="some-other-registry")

    def wrong_issuer(self) -> str:
        return self.signed(iss="https://evil.example.com")

    def bad_signature(self) -> str:
        """Same header and kid, signed with a key the server never saw."""
        return self.signed(key=ec.generate_private_key(ec.SECP256R1()))

    def unsigned(self) -> str:
        """`alg: none`, the classic JWT bypass."""
        return compact({**self.header, "alg": "none"}, self.claims)

    def hmac_with_public_key(self) -> str:
        """HS256 keyed with the server's public key PEM: the algorithm-confusion attack."""
        header = {**self.header, "alg": "HS256"}
        public = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        unsigned = compact(header, self.claims).rsplit(".", 1)[0]
        signature = hmac.new(public, unsigned.encode(), hashlib.sha256).digest()
        return f"{unsigned}.{b64url(signature)}"

    def tampered(self, access: list[dict[str, Any]]) -> str:
        """The genuine signature kept, the access claim widened."""
        head, _, signature = self.genuine.split(".")
        body = b64url(json.dumps({**self.claims, "access": access}, separators=(",", ":")).encode())
        return f"{head}.{body}.{signature}"
