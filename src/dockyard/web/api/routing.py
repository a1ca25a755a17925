"""Docker Hub answers most paths with and without their trailing slash (hub-tool asks for
``/v2/repositories/alice/`` and ``.../tags/``, scripts often leave the slash off). ``alias``
registers a handler at both spellings; the OpenAPI document lists the one Docker Hub documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def alias(method: Callable[..., Callable[[F], F]], path: str, **options: Any) -> Callable[[F], F]:
    twin = path[:-1] if path.endswith("/") else f"{path}/"

    def register(handler: F) -> F:
        method(twin, include_in_schema=False, **options)(handler)
        return method(path, **options)(handler)

    return register
