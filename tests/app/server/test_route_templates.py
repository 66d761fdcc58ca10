"""The path routes match against: ours, and the one starlette's routing uses."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Match, Mount, Route

from app.server.route_templates import route_path

CASES = [
    # (path, root_path, route path)
    ("/items", "", "/items"),
    ("/api/items", "/api", "/items"),
    ("/api", "/api", ""),
    ("/api/", "/api", "/"),
    ("/apix/items", "/api", "/apix/items"),  # a prefix of a segment is not a root
    ("/other", "/api", "/other"),  # a server that left root_path out of path
]


@pytest.mark.parametrize(("path", "root", "expected"), CASES)
def test_route_path_drops_the_root_path(path: str, root: str, expected: str) -> None:
    assert route_path({"type": "http", "path": path, "root_path": root}) == expected


@pytest.mark.parametrize(("path", "root", "expected"), CASES)
def test_starlette_routes_match_the_same_path(path: str, root: str, expected: str) -> None:
    """Our fast path and the route templates see what starlette's router sees."""
    route = Route(expected or "/", PlainTextResponse, methods=["GET"])
    scope = {"type": "http", "method": "GET", "path": path, "root_path": root}
    match, _ = route.matches(scope)
    assert (match is Match.FULL) == (route_path(scope) == route.path)
    other, _ = Route("/elsewhere", PlainTextResponse).matches(scope)
    assert other is Match.NONE


def test_inside_a_mount_the_route_path_is_the_mounted_apps_own() -> None:
    mount = Mount("/sub", routes=[Route("/items", PlainTextResponse)])
    scope = {"type": "http", "method": "GET", "path": "/api/sub/items", "root_path": "/api"}
    match, child = mount.matches(scope)
    assert match is Match.FULL
    assert route_path({**scope, **child}) == "/items"
