"""The signing key: made once, kept private, the same for every worker."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from dockyard.auth import keys


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = keys.load_or_create(tmp_path)
    path = tmp_path / keys.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert isinstance(first.private_key.curve, ec.SECP256R1)
    assert keys.load_or_create(tmp_path).kid == first.kid


def test_concurrent_starts_agree_on_one_key(tmp_path: Path) -> None:
    kids: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        kids.append(keys.load_or_create(tmp_path).kid)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1
    assert [p.name for p in (tmp_path / "auth").iterdir()] == ["token-signing-key.pem"]


def test_kid_is_libtrust_style() -> None:
    kid = keys.SigningKey.generate().kid
    groups = kid.split(":")
    assert len(groups) == 12 and all(len(g) == 4 and g.isalnum() and g.isupper() for g in groups)
