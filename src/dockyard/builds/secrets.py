"""Encryption at rest for link credentials, webhook secrets and secret build variables: the one
secrets facility of the whole server (dockyard/secretbox.py), named here for the builds' imports."""

from __future__ import annotations

from dockyard.secretbox import KEY_FILE, SecretBox

__all__ = ["KEY_FILE", "SecretBox"]
