"""The ASGI app in-process: routing, errors, request ids, middleware, mounts, metrics."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from fastapi import FastAPI
from flask import Flask
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.testclient import TestClient

from app import Service
from app.io import JSON, NumpyNdarray, Text


def make_service() -> Service:
    svc = Service("demo")

    @svc.api(input=NumpyNdarray(dtype="float64", shape=(-1, 2), enforce_shape=True), output=NumpyNdarray())
    def double(x: np.ndarray) -> np.ndarray:
        return x * 2

    @svc.api(input=Text(), output=Text(), route="v1/shout")
    async def shout(text: str) -> str:
        return text.upper()

    @svc.api(input=JSON(), output=JSON())
    def boom(body: dict) -> dict:
        raise RuntimeError("secret internals")

    return svc


def test_api_routes_answer_and_bad_input_does_not_break_the_next_request() -> None:
    with TestClient(make_service().to_asgi()) as client:
        assert client.post("/double", json=[[1, 2]]).json() == [[2.0, 4.0]]
        assert client.post("/v1/shout", content="hey", headers={"content-type": "text/plain"}).text == "HEY"
        bad = client.post("/double", content=b"[[1, 2", headers={"content-type": "application/json"})
        assert bad.status_code == 400 and "error" in bad.json()
        assert client.post("/double", json=[[1, 2, 3]]).status_code == 400
        assert client.post("/double", content=b"x", headers={"content-type": "image/png"}).status_code == 415
        assert client.post("/double", json=[[3, 4]]).json() == [[6.0, 8.0]]


def test_statuses_and_error_shape() -> None:
    with TestClient(make_service().to_asgi()) as client:
        missing = client.get("/nope")
        assert missing.status_code == 404
        assert set(missing.json()) <= {"error", "detail"}
        wrong = client.get("/double")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "POST"
        assert client.post("/livez").status_code == 405


def test_user_code_exception_is_a_generic_500_with_the_traceback_logged(caplog) -> None:
    caplog.set_level(logging.ERROR, logger="tiffin.error")
    with TestClient(make_service().to_asgi(), raise_server_exceptions=False) as client:
        response = client.post("/boom", json={}, headers={"x-request-id": "abc-123"})
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.headers["x-request-id"] == "abc-123"
    assert any("abc-123" in r.getMessage() and r.exc_info for r in caplog.records)


def test_every_response_carries_a_request_id() -> None:
    with TestClient(make_service().to_asgi()) as client:
        for response in (client.get("/livez"), client.get("/nope"), client.post("/double", json=[[1, 1]])):
            assert len(response.headers["x-request-id"]) == 32
        assert client.get("/livez", headers={"X-Request-ID": "mine"}).headers["x-request-id"] == "mine"


def test_infrastructure_endpoints() -> None:
    with TestClient(make_service().to_asgi()) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json()["status"] == "ready"
        doc = client.get("/docs.json").json()
        assert doc["openapi"].startswith("3.1")
        assert "/double" in doc["paths"] and "/v1/shout" in doc["paths"]
        assert "text/html" in client.get("/").headers["content-type"]


def test_trusted_host_middleware_covers_apis_mounts_and_infrastructure() -> None:
    svc = make_service()
    inner = FastAPI()

    @inner.get("/hello")
    def hello() -> str:
        return "hi"

    svc.mount_asgi_app(inner, path="/fastapi")
    svc.add_asgi_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])
    with TestClient(svc.to_asgi(), base_url="http://evil.test") as client:
        for response in (
            client.post("/double", json=[[1, 1]]),
            client.get("/fastapi/hello"),
            client.get("/livez"),
            client.get("/metrics"),
            client.get("/docs.json"),
        ):
            assert response.status_code == 400
            assert "x-request-id" in response.headers
    with TestClient(svc.to_asgi(), base_url="http://api.example.com") as client:
        assert client.post("/double", json=[[1, 1]]).status_code == 200
        assert client.get("/fastapi/hello").json() == "hi"
        assert client.get("/livez").status_code == 200


def test_middleware_order_first_added_is_outermost() -> None:
    calls: list[str] = []

    class Tag:
        def __init__(self, app, name: str) -> None:
            self.app, self.name = app, name

        async def __call__(self, scope, receive, send) -> None:
            if scope["type"] == "http":
                calls.append(self.name)
            await self.app(scope, receive, send)

    svc = make_service()
    svc.add_asgi_middleware(Tag, name="first")
    svc.add_asgi_middleware(Tag, name="second")
    with TestClient(svc.to_asgi()) as client:
        client.get("/livez")
    assert calls == ["first", "second"]


def test_root_mounts_hide_none_of_the_service_routes() -> None:
    svc = make_service()
    fastapi_app = FastAPI()

    @fastapi_app.get("/metadata")
    def metadata() -> dict:
        return {"name": "m"}

    @fastapi_app.get("/livez")
    def fake_livez() -> str:
        return "hidden?"

    flask_app = Flask(__name__)

    @flask_app.route("/flask/ping")
    def ping() -> str:
        return "pong"

    svc.mount_wsgi_app(flask_app, path="/w")
    svc.mount_asgi_app(fastapi_app)
    with TestClient(svc.to_asgi()) as client:
        assert client.get("/metadata").json() == {"name": "m"}
        assert client.get("/livez").json()["status"] == "live"
        assert client.post("/double", json=[[1, 1]]).status_code == 200
        assert client.get("/double").status_code == 405
        assert "text/html" in client.get("/").headers["content-type"]
        assert client.get("/w/flask/ping").text == "pong"
        doc = client.get("/docs.json").json()
        assert "/metadata" in doc["paths"]


def metric_lines(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            out[labels] = float(value)
    return out


def test_metrics_are_labelled_by_route_template_never_by_raw_path() -> None:
    svc = make_service()
    fastapi_app = FastAPI()

    @fastapi_app.get("/items/{item_id}")
    def item(item_id: int) -> dict:
        return {"id": item_id}

    flask_app = Flask(__name__)

    @flask_app.route("/users/<name>")
    def user(name: str) -> str:
        return name

    svc.mount_asgi_app(fastapi_app, path="/api")
    svc.mount_wsgi_app(flask_app, path="/flask")
    with TestClient(svc.to_asgi()) as client:
        for i in range(3):
            client.get(f"/api/items/{i}")
            client.get(f"/flask/users/u{i}")
            client.get(f"/random/{i}")
        client.post("/double", json=[[1, 1]])
        text = client.get("/metrics").text
    counts = metric_lines(text, "tiffin_http_requests_total")
    joined = "\n".join(counts)
    assert 'endpoint="/api/items/{item_id}"' in joined
    assert 'endpoint="/flask/users/<name>"' in joined
    assert 'endpoint="/double"' in joined
    assert "/random/" not in joined and "u1" not in joined
    item_count = [v for k, v in counts.items() if "/api/items/{item_id}" in k]
    assert item_count == [3.0]
    unmatched = [v for k, v in counts.items() if 'endpoint="<unmatched>"' in k and 'status="404"' in k]
    assert unmatched == [3.0]


def test_timeout_answers_504() -> None:
    svc = Service("slow")

    @svc.api(input=Text(), output=Text())
    async def wait(text: str) -> str:
        await asyncio.sleep(5)
        return text

    @svc.api(input=Text(), output=Text())
    def wait_sync(text: str) -> str:
        import time

        time.sleep(1.5)
        return text

    svc.traffic = type(svc.traffic)(timeout=0.3)
    with TestClient(svc.to_asgi()) as client:
        response = client.post("/wait", content="x", headers={"content-type": "text/plain"})
        assert response.status_code == 504
        assert response.json()["error"]
        assert client.post("/wait_sync", content="x", headers={"content-type": "text/plain"}).status_code == 504
        assert client.get("/livez").status_code == 200


def test_a_mount_takes_paths_with_a_newline_in_them() -> None:
    # Found by schemathesis: /v1/echo/a%0Ab was a 404, as Starlette's Mount pattern stops at "\n".
    svc = make_service()
    fastapi_app = FastAPI()

    @fastapi_app.get("/echo/{word}")
    def echo(word: str) -> dict:
        return {"word": word}

    svc.mount_asgi_app(fastapi_app, path="/v1")
    with TestClient(svc.to_asgi()) as client:
        assert client.get("/v1/echo/a%0Ab%0D%0Ac").json() == {"word": "a\nb\r\nc"}
        assert client.get("/v1/echo/plain").json() == {"word": "plain"}
        assert client.get("/v2/echo/a%0Ab").status_code == 404
