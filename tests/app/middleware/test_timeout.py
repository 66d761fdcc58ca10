"""``TimeoutMiddleware``: the app's slowness is a 504, the client's slowness sending its body a 408."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.middleware.timeout import TimeoutMiddleware


async def reads_then_thinks(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body", False):
        pass
    await asyncio.sleep(1)  # the app's own time
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"late"})


async def call(app: TimeoutMiddleware, receive: Receive) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/", "headers": []}, receive, send)
    return sent


@pytest.mark.anyio
async def test_a_body_that_trickles_past_the_timeout_is_408_not_504() -> None:
    chunks = 0

    async def trickle() -> Message:
        nonlocal chunks
        chunks += 1
        await asyncio.sleep(0.02)  # each gap short, all of them longer than the timeout
        return {"type": "http.request", "body": b"x", "more_body": True}

    sent = await call(TimeoutMiddleware(reads_then_thinks, seconds=0.2), trickle)
    assert sent[0]["status"] == 408 and chunks > 3
    assert orjson.loads(sent[1]["body"]) == {
        "error": "The request body did not arrive within the server's timeout.",
        "detail": {"timeout": 0.2},
    }


@pytest.mark.anyio
async def test_the_apps_own_slowness_after_the_body_is_504() -> None:
    async def whole() -> Message:
        return {"type": "http.request", "body": b"x", "more_body": False}

    sent = await call(TimeoutMiddleware(reads_then_thinks, seconds=0.2), whole)
    assert sent[0]["status"] == 504


@pytest.mark.anyio
async def test_listening_for_a_disconnect_after_the_body_is_not_waiting_for_the_client() -> None:
    async def listens(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the whole body
        await receive()  # a disconnect that never comes, while the app would work
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def body_then_nothing() -> Message:
        if not hasattr(body_then_nothing, "done"):
            body_then_nothing.done = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"x", "more_body": False}
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    sent = await call(TimeoutMiddleware(listens, seconds=0.2), body_then_nothing)
    assert sent[0]["status"] == 504
