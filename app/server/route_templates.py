"""Route templates for metrics and logs: ``/items/{id}``, never the raw path.

Resolved before the request is dispatched, so the in-progress gauge and the request counter
carry the same label. Mounted Starlette/FastAPI apps are resolved through their routes,
Flask/Quart through their URL map; anything else is labelled by its mount.

``route_path`` is the path routes match against, as the ASGI spec defines it (the scope's
``path`` less its ``root_path``); starlette's own helper for it is private.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

UNMATCHED = "<unmatched>"


def route_path(scope: Scope) -> str:
    """``path`` without the ``root_path`` prefix the server or a mount put in front of it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    rest = path[len(root) :]
    return rest if not rest or rest.startswith("/") else path


class TemplateResolver:
    def __init__(self, routes: Sequence[BaseRoute], mounts: Sequence[tuple[Mount, Any]]) -> None:
        self._routes = list(routes)
        paths = [getattr(r, "path", None) for r in routes]
        self._static: dict[str, str] = {p: p for p in paths if isinstance(p, str) and "{" not in p}
        self._mounts = list(mounts)

    def resolve(self, scope: Scope) -> str:
        path = route_path(scope)
        hit = self._static.get(path)
        if hit is not None:
            return hit
        found = _match(self._routes, scope, "")
        if found is not None:
            return found
        for mount, original in self._mounts:
            match, child = mount.matches(scope)
            if match is Match.FULL:
                inner = {**scope, **child}
                return _inside(original, inner, mount.path) or f"{mount.path}/{{path}}"
        return UNMATCHED


def _match(routes: Sequence[BaseRoute], scope: Scope, prefix: str) -> str | None:
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            if match is Match.FULL:
                inner = {**scope, **child}
                return _inside(route.app, inner, prefix + route.path) or f"{prefix}{route.path}/{{path}}"
            continue
        template = prefix + getattr(route, "path", "")
        if match is Match.FULL:
            return template
        partial = partial or template
    return partial


def _inside(app: Any, scope: Scope, prefix: str) -> str | None:
    routes = getattr(app, "routes", None)
    if isinstance(routes, list):
        return _match(routes, scope, prefix)
    url_map = getattr(app, "url_map", None)
    if url_map is not None:
        return _werkzeug(url_map, scope, prefix)
    return None


def _werkzeug(url_map: Any, scope: Scope, prefix: str) -> str | None:
    try:
        adapter = url_map.bind("localhost")
        rule, _ = adapter.match(route_path(scope), method=scope.get("method"), return_rule=True)
    except Exception:  # NotFound, MethodNotAllowed, RequestRedirect: nothing to label by
        return None
    return prefix + str(rule.rule)
