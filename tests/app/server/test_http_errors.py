"""A mounted app's ``HTTPException`` of 4xx is the client's error: its status as JSON, no traceback."""

import logging
from pathlib import Path

import pytest
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from app import Service
from app.server.http_errors import describe, is_client_error


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
