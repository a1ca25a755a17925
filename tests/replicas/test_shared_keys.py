"""Replicas with data folders of their own share one token signing key through
DOCKYARD_TOKEN_SIGNING_KEY_FILE, so a token one of them issued is good at another."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.auth import keys
from dockyard.config import Settings


def test_replicas_given_one_key_file_sign_with_one_key(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "signing.pem"
    keys._create(shared)  # what an operator makes once, e.g. openssl genpkey -algorithm EC
    loaded = []
    for replica in ("a", "b"):
        settings = Settings(data_dir=tmp_path / replica, token_signing_key_file=str(shared))
        loaded.append(keys.load_or_create(settings.data_dir, settings.token_signing_key_path))
    assert loaded[0].kid == loaded[1].kid
    assert not (tmp_path / "a" / keys.KEY_FILE).exists()  # no key of its own was made
    # Without the setting each data folder makes its own: tokens would not cross replicas.
    own = [keys.load_or_create(tmp_path / replica) for replica in ("c", "d")]
    assert own[0].kid != own[1].kid


def test_a_missing_key_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DOCKYARD_TOKEN_SIGNING_KEY_FILE"):
        keys.load_or_create(tmp_path, tmp_path / "missing.pem")
