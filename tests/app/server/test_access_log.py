"""One structured access-log line per request, with the route template and the request id."""

from __future__ import annotations

import json
import logging

from starlette.testclient import TestClient

from app import Service
from app.config.schema import TiffinConfig
from app.io import Text


def make_app(**logging_config: object):
    svc = Service("logged")

    @svc.api(input=Text(), output=Text(), route="/items/echo")
    def echo(text: str) -> str:
        return text

    return svc.to_asgi(TiffinConfig.model_validate({"logging": logging_config}))


def access_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "tiffin.access"]


def test_each_request_logs_one_line_with_route_status_duration_and_request_id(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tiffin.access")
    with TestClient(make_app()) as client:
        client.post("/items/echo", content="x", headers={"content-type": "text/plain", "x-request-id": "r-1"})
        client.get("/nowhere/42")
        client.get("/livez")
        client.get("/metrics")
    lines = access_lines(caplog)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/items/echo", 200),
        ("GET", "<unmatched>", 404),
    ]
    assert lines[0]["request_id"] == "r-1"
    assert lines[0]["duration_ms"] >= 0
    assert len(lines[1]["request_id"]) == 32


def test_skip_paths_and_disabling_are_honoured(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tiffin.access")
    with TestClient(make_app(access={"enabled": True, "skip_paths": ["/items/echo"]})) as client:
        client.post("/items/echo", content="x", headers={"content-type": "text/plain"})
        client.get("/livez")
    assert [line["path"] for line in access_lines(caplog)] == ["/livez"]
    caplog.clear()
    with TestClient(make_app(access={"enabled": False})) as client:
        client.get("/livez")
    assert access_lines(caplog) == []
