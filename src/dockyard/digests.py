"""Content digests: the one piece of vocabulary every layer shares."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Algorithms we can verify, with the length of their hex encoding.
HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX_RE = re.compile(r"^[a-f0-9]+$")


class InvalidDigest(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, value: str) -> Digest:
        algorithm, sep, encoded = value.partition(":")
        expected = HEX_LENGTHS.get(algorithm)
        if not sep or expected is None:
            raise InvalidDigest(f"unsupported digest {value!r}")
        if len(encoded) != expected or not _HEX_RE.match(encoded):
            raise InvalidDigest(f"malformed digest {value!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)
