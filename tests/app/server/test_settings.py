"""Server settings from YAML that shape the ASGI app: CORS, root_path, readiness on SIGTERM."""

from __future__ import annotations

import signal

from starlette.testclient import TestClient

from app import Service
from app.config.schema import TiffinConfig
from app.io import Text
from app.server.health import Readiness


def make_service() -> Service:
    svc = Service("settings")

    @svc.api(input=Text(), output=Text())
    def echo(text: str) -> str:
        return text

    return svc


def test_cors_from_config_answers_preflight_and_marks_responses() -> None:
    config = TiffinConfig.model_validate(
        {"server": {"cors": {"enabled": True, "allow_origins": ["https://ui.test"], "allow_methods": ["POST"]}}}
    )
    with TestClient(make_service().to_asgi(config)) as client:
        preflight = client.options(
            "/echo", headers={"origin": "https://ui.test", "access-control-request-method": "POST"}
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ui.test"
        simple = client.post("/echo", content="x", headers={"origin": "https://ui.test", "content-type": "text/plain"})
        assert simple.headers["access-control-allow-origin"] == "https://ui.test"
        other = client.post("/echo", content="x", headers={"origin": "https://evil.test", "content-type": "text/plain"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_is_off_by_default() -> None:
    with TestClient(make_service().to_asgi(TiffinConfig())) as client:
        response = client.post("/echo", content="x", headers={"origin": "https://ui.test", "content-type": "text/plain"})
        assert "access-control-allow-origin" not in response.headers


def test_root_path_serves_under_a_prefix_whether_or_not_the_gateway_strips_it() -> None:
    config = TiffinConfig.model_validate({"server": {"root_path": "/models/iris"}})
    with TestClient(make_service().to_asgi(config)) as client:
        assert client.post("/echo", content="a", headers={"content-type": "text/plain"}).text == "a"
        assert client.post("/models/iris/echo", content="b", headers={"content-type": "text/plain"}).text == "b"
        assert client.get("/docs.json").json()["servers"] == [{"url": "/models/iris"}]
        page = client.get("/").text
        assert 'data-url="/models/iris/docs.json"' in page
        assert 'src="/models/iris/static/swagger-ui/swagger-ui-bundle.js"' in page


def test_sigterm_flips_readiness_then_runs_the_servers_own_handler() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        readiness = Readiness([])
        readiness.started = True
        readiness.install_signal_hooks()
        assert not readiness.draining
        signal.raise_signal(signal.SIGTERM)
        assert readiness.draining
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
