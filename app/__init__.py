"""tiffin's serving layer and Python SDK.

    from app import Service, service, api, mount_asgi_app, get_current_service, Context, Cookie
    from app import on_deployment, on_startup, on_shutdown     # hooks in an @service class

The names load on first use, so that ``tiffin healthcheck`` (run every few seconds by container
health checks) starts without importing the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sdk.class_style import api, mount_asgi_app, on_deployment, on_shutdown, on_startup, service
    from app.sdk.context import Context, Cookie, get_current_service
    from app.sdk.service import Service

__all__ = [
    "Context",
    "Cookie",
    "Service",
    "api",
    "get_current_service",
    "mount_asgi_app",
    "on_deployment",
    "on_shutdown",
    "on_startup",
    "service",
]

_HOMES = {
    "Context": "app.sdk.context",
    "Cookie": "app.sdk.context",
    "Service": "app.sdk.service",
    "api": "app.sdk.class_style",
    "mount_asgi_app": "app.sdk.class_style",
    "on_deployment": "app.sdk.class_style",
    "on_shutdown": "app.sdk.class_style",
    "on_startup": "app.sdk.class_style",
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
