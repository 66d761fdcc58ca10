"""``app.server.http_errors``: every error is a JSON body, whatever its detail holds; a mounted app's
4xx ``HTTPException`` keeps its status, with no traceback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from app import Service
from app.server.http_errors import BadInput, describe, error_body, error_response, is_client_error


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_error_body_is_orjson_for_plain_details():
    assert error_body("bad", {"shape": [1, 4]}) == b'{"error":"bad","detail":{"shape":[1,4]}}'
    assert error_body("bad") == b'{"error":"bad"}'


def test_a_detail_with_an_int_over_64_bits_is_still_written():
    # found by reliability.fuzz: an .npy header's shape of 10**32 in the detail made the answer itself fail
    body = json.loads(error_body("bad", {"shape": [10**32, 0]}))
    assert body == {"error": "bad", "detail": {"shape": [10**32, 0]}}


@pytest.mark.parametrize("depth", [300, 5000])
def test_a_detail_nested_past_the_encoders_limits_keeps_the_message(depth):
    body = json.loads(error_body("bad", nested(depth)))
    assert body["error"] == "bad"


def test_error_response_of_a_hostile_detail_is_a_json_400():
    response = error_response(BadInput("bad", detail={"n": 10**40, "deep": nested(2000)}))
    assert response.status_code == 400
    assert json.loads(bytes(response.body))["error"] == "bad"


def test_starlette_http_exceptions_keep_their_4xx_status_and_headers() -> None:
    assert describe(HTTPException(404)) == (404, "Not Found.", None, {})
    assert describe(HTTPException(405, headers={"Allow": "GET"}))[0::3] == (405, {"Allow": "GET"})
    assert is_client_error(HTTPException(404))
    assert describe(HTTPException(502))[0] == 500  # a server-side status stays our generic 500
    assert not is_client_error(RuntimeError("boom"))


@pytest.mark.parametrize(
    "path",
    [
        "/files/missing.txt",
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/..%2fsecret.txt",
        "/static/swagger-ui/missing.js",
        "/static/swagger-ui/%2e%2e/%2e%2e/secret.txt",
    ],
)
def test_static_files_answer_404_not_500(tmp_path: Path, path: str, caplog: pytest.LogCaptureFixture) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "index.txt").write_text("ok")
    (tmp_path / "secret.txt").write_text("SECRET")
    svc = Service("static_404")
    svc.mount_asgi_app(StaticFiles(directory=served), path="/files")
    with caplog.at_level(logging.ERROR, logger="tiffin.error"), TestClient(svc.to_asgi()) as client:
        assert client.get("/files/index.txt").text == "ok"
        response = client.get(path)
    assert response.status_code == 404
    assert set(response.json()) <= {"error", "detail"}  # the client may resolve "..": then no route matches
    assert "SECRET" not in response.text
    assert not caplog.records  # a client's 404 is no failure of ours


def test_static_files_answer_405_to_a_post(tmp_path: Path) -> None:
    svc = Service("static_405")
    svc.mount_asgi_app(StaticFiles(directory=tmp_path), path="/files")
    with TestClient(svc.to_asgi()) as client:
        assert client.post("/files/x", content=b"x").status_code == 405
