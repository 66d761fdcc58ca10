"""A mounted FastAPI app answers 422, not 500, to a binary body on a JSON route (fastapi#13111)."""

import pickle

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.testclient import TestClient

from app import Service
from app.sdk.fastapi_binding import guard_validation_errors


class Point(BaseModel):
    x: float


def _app() -> FastAPI:
    api = FastAPI()

    @api.post("/point")
    def point(p: Point) -> dict[str, float]:
        return {"x": p.x}

    return api


def test_binary_bodies_get_422_through_a_mount() -> None:
    svc = Service("fastapi_binary")
    svc.mount_asgi_app(_app(), path="/api")
    with TestClient(svc.to_asgi()) as client:
        assert client.post("/api/point", json={"x": 1}).json() == {"x": 1.0}
        for protocol in (2, 5):
            body = pickle.dumps([1.0, 2.0], protocol=protocol)
            response = client.post("/api/point", content=body, headers={"content-type": "application/octet-stream"})
            assert response.status_code == 422, response.text
            assert response.json()["detail"]


def test_an_apps_own_validation_handler_is_kept() -> None:
    api = _app()

    async def mine(request: object, exc: Exception) -> JSONResponse:
        return JSONResponse({"mine": True}, status_code=400)

    api.add_exception_handler(RequestValidationError, mine)
    guard_validation_errors(api)
    assert api.exception_handlers[RequestValidationError] is mine


def test_other_apps_are_left_alone() -> None:
    guard_validation_errors(object())  # no FastAPI: nothing to do, nothing imported
