"""A one-route Starlette app around a descriptor, with ServiceError mapped to JSON as the server does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app.io import IODescriptor
from app.server.http_errors import ServiceError


def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return JSONResponse({"error": exc.message, "detail": exc.detail}, status_code=exc.status_code)


def make_client(
    descriptor: IODescriptor,
    handler: Callable[[Any], Any] = lambda value: value,
    output: IODescriptor | None = None,
) -> TestClient:
    out = output or descriptor
    seen: list[Any] = []

    async def endpoint(request: Request) -> Response:
        value = await descriptor.from_request(request)
        seen.append(value)
        return out.to_response(handler(value), accept=request.headers.get("accept"))

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])], exception_handlers={ServiceError: _service_error})
    client = TestClient(app, raise_server_exceptions=True)
    client.seen = seen  # type: ignore[attr-defined]
    return client


@pytest.fixture
def client_for() -> Callable[..., TestClient]:
    return make_client
