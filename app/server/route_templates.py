"""Route templates for metrics and logs: ``/items/{id}``, never the raw path.

Resolved before the request is dispatched, so the in-progress gauge and the request counter
carry the same label. Mounted Starlette/FastAPI apps are resolved through their routes,
Flask/Quart through their URL map; anything else is labelled by its mount.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, get_route_path
from starlette.types import Scope

UNMATCHED = "<unmatched>"


class TemplateResolver:
    def __init__(self, routes: Sequence[BaseRoute], mounts: Sequence[tuple[Mount, Any]]) -> None:
        self._routes = list(routes)
        self._static = {r.path: r.path for r in routes if "{" not in getattr(r, "path", "{")}
        self._mounts = list(mounts)

    def resolve(self, scope: Scope) -> str:
        path = get_route_path(scope)
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
        rule, _ = adapter.match(get_route_path(scope), method=scope.get("method"), return_rule=True)
    except Exception:  # NotFound, MethodNotAllowed, RequestRedirect: nothing to label by
        return None
    return prefix + str(rule.rule)
