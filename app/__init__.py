"""tiffin's serving layer and Python SDK.

    from app import Service, service, api, mount_asgi_app, get_current_service

The names load on first use, so that ``tiffin healthcheck`` (run every few seconds by container
health checks) starts without importing the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sdk.class_style import api, mount_asgi_app, service
    from app.sdk.context import get_current_service
    from app.sdk.service import Service

__all__ = ["Service", "api", "get_current_service", "mount_asgi_app", "service"]

_HOMES = {
    "Service": "app.sdk.service",
    "api": "app.sdk.class_style",
    "mount_asgi_app": "app.sdk.class_style",
    "service": "app.sdk.class_style",
    "get_current_service": "app.sdk.context",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
