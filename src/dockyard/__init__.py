"""Dockyard: a self-hosted Docker Hub."""

__version__ = "0.1.0"
