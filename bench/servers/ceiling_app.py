"""The ceiling: a bare ASGI app that answers without parsing or predicting anything.

It reads the request body and returns the answer stored for those exact bytes, so the harness
can check its answers like any other server's; that lookup is the only work it does. The
answers come from the JSON file named by ``BENCH_ANSWERS`` (a list of ``[body, answer]``
string pairs); without it, the iris row ``[[5.9,3.0,5.1,1.8]]`` answers ``[2]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def load_answers() -> dict[bytes, bytes]:
    path = os.environ.get("BENCH_ANSWERS")
    if not path:
        return {b"[[5.9,3.0,5.1,1.8]]": b"[2]"}
    with open(path, encoding="utf-8") as file:
        return {body.encode(): answer.encode() for body, answer in json.load(file)}


ANSWERS = load_answers()
JSON_HEADERS = [(b"content-type", b"application/json")]
TEXT_HEADERS = [(b"content-type", b"text/plain")]


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    path = scope["path"]
    if scope["method"] == "GET" and path in ("/readyz", "/livez", "/healthz"):
        await respond(send, 200, TEXT_HEADERS, b"ok")
    elif path != "/classify":
        await respond(send, 404, JSON_HEADERS, b'{"error":"no such route"}')
    elif (answer := ANSWERS.get(b"".join(chunks))) is None:
        await respond(send, 400, JSON_HEADERS, b'{"error":"unknown body"}')
    else:
        await respond(send, 200, JSON_HEADERS, answer)
