"""Body size, concurrency and timeouts, in-process."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.testclient import TestClient

from app import Service
from app.config.schema import TiffinConfig
from app.io import File, Text
from app.process.shared_slots import LocalSlots
from tests.waiting import wait_until_async


def make_service() -> Service:
    svc = Service("limits")

    @svc.api(input=File(), output=Text())
    def size(body: bytes) -> str:
        return str(len(body))

    @svc.api(input=Text(), output=Text())
    async def hold(text: str) -> str:
        await asyncio.sleep(float(text))
        return "done"

    return svc


def config(**server: object) -> TiffinConfig:
    return TiffinConfig.model_validate({"server": server})


def test_declared_oversized_body_is_refused_with_413() -> None:
    app = make_service().to_asgi(config(max_request_size="1KiB"))
    with TestClient(app) as client:
        assert client.post("/size", content=b"x" * 1024).text == "1024"
        too_big = client.post("/size", content=b"x" * 1025)
        assert too_big.status_code == 413
        assert too_big.json()["detail"] == {"max_request_size": 1024}
        assert client.post("/size", content=b"x" * 10).text == "10"


@pytest.mark.anyio
async def test_streamed_oversized_body_is_refused_without_reading_it_all() -> None:
    app = make_service().to_asgi(config(max_request_size=1000))
    chunks_read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"y" * 100, "more_body": chunks_read < 10_000}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/size", "raw_path": b"/size", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"t"), (b"transfer-encoding", b"chunked")], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert chunks_read <= 11


@pytest.mark.anyio
async def test_concurrency_limit_answers_503_with_retry_after_and_spares_probes() -> None:
    svc = make_service()
    inside = 0
    gate = asyncio.Event()

    @svc.api(input=Text(), output=Text())
    async def gated(text: str) -> str:
        nonlocal inside
        inside += 1
        await gate.wait()
        return "done"

    app = svc.to_asgi(config(max_concurrency=2))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        holders = [
            asyncio.create_task(client.post("/gated", content="", headers={"content-type": "text/plain"}))
            for _ in range(2)
        ]
        await wait_until_async(lambda: inside == 2, message="two requests holding both slots")
        over = await client.post("/hold", content="0", headers={"content-type": "text/plain"})
        assert over.status_code == 503
        assert over.headers["retry-after"] == "1"
        assert (await client.get("/livez")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*holders)] == [200, 200]
        after = await client.post("/hold", content="0", headers={"content-type": "text/plain"})
        assert after.status_code == 200


def test_local_slots_count() -> None:
    slots = LocalSlots()
    assert slots.try_acquire(1)
    assert not slots.try_acquire(1)
    slots.release()
    assert slots.try_acquire(1)


def test_yaml_timeout_wins_over_service_traffic() -> None:
    svc = make_service()
    svc.traffic = type(svc.traffic)(timeout=30)
    with TestClient(svc.to_asgi(config(timeout=0.2))) as client:
        assert client.post("/hold", content="2", headers={"content-type": "text/plain"}).status_code == 504
