"""Streams for process tests: an API generator, a FastAPI StreamingResponse and a Flask generator.

Each yields its first chunk, then waits for the file named by ``gate`` (which the test makes once
it has read that chunk) before it goes on: the first chunk cannot be late and still pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from flask import Flask, Response, request

from app import Service
from app.io import JSON, Text


def wait_for(gate: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {gate} within {within} s")
        time.sleep(0.01)


def gated(gate: str, words: list[str]) -> Iterator[str]:
    yield words[0]
    wait_for(gate)
    yield from words[1:]


svc = Service("streams")


@svc.api(input=JSON(), output=Text())
def tokens(body: dict[str, str]) -> Iterator[str]:
    yield from gated(body["gate"], ["first ", "second ", "third"])


@svc.api(input=JSON(), output=JSON())
def events(body: dict[str, str]) -> Iterator[dict[str, int]]:
    for i, _ in enumerate(gated(body["gate"], ["a", "b"])):
        yield {"i": i}


fastapi_app = FastAPI()


@fastapi_app.post("/stream")
def fastapi_stream(body: dict[str, str]) -> StreamingResponse:
    return StreamingResponse(gated(body["gate"], ["fa ", "fb"]), media_type="text/plain")


flask_app = Flask(__name__)


@flask_app.post("/stream")
def flask_stream() -> Response:
    gate = request.get_json()["gate"]
    return Response(gated(gate, ["la ", "lb"]), mimetype="text/plain")


svc.mount_asgi_app(fastapi_app, path="/fastapi")
svc.mount_wsgi_app(flask_app, path="/flask")


@svc.api(input=JSON(), output=Text())
def steady(body: dict[str, float]) -> Iterator[str]:
    """``n`` tokens, ``gap`` seconds apart."""
    for i in range(int(body["n"])):
        time.sleep(body["gap"])
        yield f"{i} "


@svc.api(input=Text(), output=Text())
def stall(text: str) -> Iterator[str]:
    """One token, then silence: ended by the stream's idle limit."""
    yield "only "
    time.sleep(60)
    yield "never"
