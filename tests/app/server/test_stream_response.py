"""Streaming APIs in-process: chunks as they are made, formats, errors, timeouts, disconnects."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app import Service, api, service
from app.config.schema import TiffinConfig
from app.io import JSON, Text
from tests.app.server.asgi_stream import Exchange, header


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def config(**server: object) -> TiffinConfig:
    return TiffinConfig.model_validate({"server": server})


def test_an_async_generator_streams_each_chunk_before_the_next_is_made() -> None:
    async def main() -> None:
        release = asyncio.Event()
        svc = Service("s")

        @svc.api(input=Text(), output=Text())
        async def tokens(prompt: str) -> AsyncGenerator[str, None]:
            yield prompt + ":a"
            await release.wait()
            yield "b"
            yield "c"

        exchange = Exchange(svc.to_asgi(), "/tokens", b"p")
        start = await exchange.start()
        assert start["status"] == 200
        assert header(start, "content-type") == "text/plain; charset=utf-8"
        assert header(start, "content-length") is None
        assert header(start, "x-request-id")
        assert await exchange.chunk() == b"p:a"
        assert not exchange.task.done()  # the generator waits for us
        release.set()
        body, complete = await exchange.rest()
        assert (body, complete) == (b"bc", True)

    run(main())


def test_a_sync_generator_streams_json_lines_from_worker_threads() -> None:
    async def main() -> None:
        release = threading.Event()
        svc = Service("s")

        @svc.api(input=JSON(), output=JSON())
        def count(request: dict[str, int]) -> Iterator[dict[str, int]]:
            yield {"i": 0}
            assert release.wait(30)
            for i in range(1, request["n"]):
                yield {"i": i}

        exchange = Exchange(svc.to_asgi(), "/count", b'{"n": 3}', headers=[("content-type", "application/json")])
        start = await exchange.start()
        assert header(start, "content-type") == "application/x-ndjson"
        assert json.loads(await exchange.chunk()) == {"i": 0}
        assert not exchange.task.done()
        release.set()
        body, complete = await exchange.rest()
        assert complete and [json.loads(line) for line in body.splitlines()] == [{"i": 1}, {"i": 2}]

    run(main())


def test_server_sent_events_when_the_client_asks_or_the_descriptor_does() -> None:
    svc = Service("s")

    @svc.api(input=Text(), output=Text())
    def words(text: str) -> Iterator[str]:
        yield from text.split()
        yield "two\nlines"

    @svc.api(input=Text(), output=Text(sse=True))
    def always(text: str) -> Iterator[str]:
        yield text

    @svc.api(input=Text(), output=JSON())
    def objects(text: str) -> Iterator[Any]:
        yield {"word": text}

    with TestClient(svc.to_asgi()) as client:
        plain = client.post("/words", content="a b", headers={"content-type": "text/plain"})
        assert plain.text == "abtwo\nlines"
        sse = client.post("/words", content="a b", headers={"content-type": "text/plain", "accept": "text/event-stream"})
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert sse.headers["cache-control"] == "no-cache"
        assert sse.text == "data: a\n\ndata: b\n\ndata: two\ndata: lines\n\n"
        assert client.post("/always", content="x", headers={"content-type": "text/plain"}).text == "data: x\n\n"
        events = client.post("/objects", content="x", headers={"content-type": "text/plain", "accept": "text/event-stream"})
        assert events.text == 'data: {"word":"x"}\n\n'


def test_an_error_before_the_first_chunk_is_an_ordinary_json_error() -> None:
    svc = Service("s")

    @svc.api(input=Text(), output=Text())
    def broken(text: str) -> Iterator[str]:
        raise RuntimeError("no tokens today")
        yield ""  # a generator all the same

    @svc.api(input=Text(), output=Text())
    def wrong_type(text: str) -> Iterator[Any]:
        yield 42

    with TestClient(svc.to_asgi(), raise_server_exceptions=False) as client:
        for route in ("/broken", "/wrong_type"):
            response = client.post(route, content="x", headers={"content-type": "text/plain"})
            assert response.status_code == 500
            assert response.json() == {"error": "Internal server error."}


def test_an_error_after_the_first_chunk_ends_the_stream_in_its_format_and_is_logged(caplog) -> None:
    caplog.set_level(logging.ERROR, logger="tiffin.stream")

    def fails(text: str) -> Iterator[Any]:
        yield {"ok": text} if text == "json" else text
        raise RuntimeError("the model broke")

    svc = Service("s")
    svc.api(input=Text(), output=Text(), name="text")(fails)
    svc.api(input=Text(), output=JSON(), name="json")(fails)

    async def main() -> None:
        app = svc.to_asgi()
        sse = Exchange(app, "/text", b"x", headers=[("content-type", "text/plain"), ("accept", "text/event-stream"), ("x-request-id", "rid-1")])
        await sse.start()
        assert await sse.chunk() == b"data: x\n\n"
        body, complete = await sse.rest()
        assert complete and body == b'event: error\ndata: {"error":"Internal server error."}\n\n'

        lines = Exchange(app, "/json", b"json")
        await lines.start()
        assert json.loads(await lines.chunk()) == {"ok": "json"}
        body, complete = await lines.rest()
        assert complete and json.loads(body) == {"error": "Internal server error."}

        text = Exchange(app, "/text", b"x")
        await text.start()
        assert await text.chunk() == b"x"
        body, complete = await text.rest()
        assert (body, complete) == (b"", False)  # left incomplete: the server cuts the connection

    run(main())
    failures = [r for r in caplog.records if r.name == "tiffin.stream"]
    assert len(failures) == 3
    assert "[request_id=rid-1]" in failures[0].getMessage() and failures[0].exc_info


def test_a_client_that_goes_away_closes_the_generator() -> None:
    async def main() -> None:
        svc = Service("s")
        closed = {"async": asyncio.Event(), "sync": threading.Event()}
        made = {"async": 0, "sync": 0}

        @svc.api(input=Text(), output=Text())
        async def forever(text: str) -> AsyncGenerator[str, None]:
            try:
                while True:
                    made["async"] += 1
                    yield "t"
                    await asyncio.sleep(0.01)
            finally:
                closed["async"].set()

        @svc.api(input=Text(), output=Text())
        def forever_sync(text: str) -> Iterator[str]:
            try:
                while True:
                    made["sync"] += 1
                    yield "t"
            finally:
                closed["sync"].set()

        app = svc.to_asgi()
        for route, kind in (("/forever", "async"), ("/forever_sync", "sync")):
            exchange = Exchange(app, route)
            await exchange.start()
            await exchange.chunk()
            await exchange.chunk()
            exchange.disconnect()
            await asyncio.wait_for(exchange.task, 30)
            event = closed[kind]
            if isinstance(event, asyncio.Event):
                await asyncio.wait_for(event.wait(), 30)
            else:
                assert await asyncio.to_thread(event.wait, 30)
            stopped_at = made[kind]
            await asyncio.sleep(0.1)
            assert made[kind] == stopped_at

    run(main())


def test_timeouts_bound_the_first_chunk_and_each_gap_not_the_whole_stream() -> None:
    async def main() -> None:
        svc = Service("s")

        @svc.api(input=Text(), output=Text())
        async def slow_start(text: str) -> AsyncGenerator[str, None]:
            await asyncio.sleep(30)
            yield "never"

        @svc.api(input=Text(), output=Text(sse=True))
        async def stalls(text: str) -> AsyncGenerator[str, None]:
            yield "first"
            await asyncio.sleep(30)
            yield "never"

        @svc.api(input=Text(), output=Text())
        async def steady(text: str) -> AsyncGenerator[str, None]:
            for i in range(6):
                await asyncio.sleep(0.25)
                yield str(i)

        app = svc.to_asgi(config(timeout=1, stream_idle_timeout=0.75))
        late = Exchange(app, "/slow_start")
        start = await late.start()
        assert start["status"] == 504
        body, _ = await late.rest()
        assert json.loads(body)["detail"] == {"timeout": 1.0}

        stalled = Exchange(app, "/stalls")
        assert (await stalled.start())["status"] == 200
        assert await stalled.chunk() == b"data: first\n\n"
        body, complete = await stalled.rest()
        assert complete and body.startswith(b"event: error\ndata: ")
        assert json.loads(body.split(b"data: ", 1)[1])["detail"] == {"idle_timeout": 0.75}

        whole = Exchange(app, "/steady")  # 1.5 s in all, longer than the timeout: fine
        assert (await whole.start())["status"] == 200
        body, complete = await whole.rest()
        assert complete and body == b"012345"

    run(main())


def test_class_style_generators_stream_by_their_yield_annotation() -> None:
    @service
    class Chat:
        @api
        def tokens(self, prompt: str = "hi") -> Iterator[str]:
            yield from prompt

        @api
        async def scores(self, n: int = 2) -> AsyncGenerator[dict[str, int], None]:
            for i in range(n):
                yield {"i": i}

    with TestClient(Chat.to_asgi()) as client:
        text = client.post("/tokens", json={"prompt": "abc"})
        assert text.headers["content-type"] == "text/plain; charset=utf-8" and text.text == "abc"
        lines = client.post("/scores", json={"n": 3})
        assert lines.headers["content-type"] == "application/x-ndjson"
        assert [json.loads(line) for line in lines.text.splitlines()] == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert client.post("/scores", json={"n": "x"}).status_code == 400  # the input is checked first


def test_streams_are_measured_and_logged_when_they_end(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tiffin.access")
    svc = Service("s")

    @svc.api(input=Text(), output=Text())
    def tokens(text: str) -> Iterator[str]:
        yield "abc"
        yield "de"

    with TestClient(svc.to_asgi()) as client:
        assert client.post("/tokens", content="x", headers={"content-type": "text/plain"}).text == "abcde"
        metrics = client.get("/metrics").text
    assert 'tiffin_http_time_to_first_chunk_seconds_count{endpoint="/tokens",method="POST",service="s"} 1.0' in metrics
    assert 'tiffin_http_stream_duration_seconds_count{endpoint="/tokens",method="POST",service="s"} 1.0' in metrics
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tiffin.access"]
    assert line["bytes"] == 5 and line["status"] == 200
    assert 0 <= line["first_chunk_ms"] <= line["duration_ms"]


@pytest.mark.parametrize("limit", [{"max_concurrency": 1}, {"max_request_size": 10}])
def test_streams_pass_through_the_limits_and_user_middleware(limit: dict[str, int]) -> None:
    from starlette.middleware.base import BaseHTTPMiddleware

    async def tag(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-tagged"] = "yes"
        return response

    async def main() -> None:
        release = asyncio.Event()
        svc = Service("s")

        @svc.api(input=Text(), output=Text())
        async def tokens(text: str) -> AsyncGenerator[str, None]:
            yield "a"
            await release.wait()
            yield "b"

        svc.add_asgi_middleware(BaseHTTPMiddleware, dispatch=tag)
        exchange = Exchange(svc.to_asgi(config(**limit)), "/tokens")
        start = await exchange.start()
        assert header(start, "x-tagged") == "yes"
        assert await exchange.chunk() == b"a"
        release.set()
        assert await exchange.rest() == (b"b", True)

    run(main())


def test_openapi_documents_a_streams_chunks() -> None:
    from openapi_spec_validator import validate

    svc = Service("s")

    @svc.api(input=Text(), output=Text())
    def tokens(text: str) -> Iterator[str]:
        yield text

    @svc.api(input=Text(), output=JSON())
    def lines(text: str) -> Iterator[Any]:
        yield text

    with TestClient(svc.to_asgi()) as client:
        doc = client.get("/docs.json").json()
    validate(doc)
    content = {p: doc["paths"][p]["post"]["responses"]["200"]["content"] for p in ("/tokens", "/lines")}
    assert set(content["/tokens"]) == {"text/plain", "text/event-stream"}
    assert content["/tokens"]["text/plain"]["schema"] == {"type": "string"}
    assert set(content["/lines"]) == {"application/x-ndjson", "text/event-stream"}
