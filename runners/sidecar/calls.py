"""``POST /<method>``: one call of a runner method over HTTP, as a plain ASGI app.

Every inference request to the sidecar passes here, so it reads the ASGI scope and messages
directly rather than building Starlette's ``Request`` and ``Response`` objects (and the
sidecar's app sends these requests past its routing and middleware, see
``runners.sidecar.server.RunnerApp``). What it does is the wire protocol of ``runners.wire.protocol``:
decode the body by its content type, send the caller's deadline along, answer in the best type
the caller accepts, and turn every ``RunnerError`` into its JSON error with its status (and
``Retry-After`` when it has one). Each answer is counted in the method's metrics.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Iterable

import orjson
from starlette.types import Message, Receive, Scope, Send

from runners.wire import protocol
from runners.errors import InvalidInput, RunnerError
from runners.sidecar.host import ModelHost

__all__ = ["MethodEndpoint", "answer", "error_body", "observe"]

logger = logging.getLogger("runners.sidecar.server")

_DEADLINE = protocol.DEADLINE_HEADER.lower().encode("latin-1")


def error_body(err: RunnerError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers (without content-length) and body of the JSON answer for ``err``."""
    headers = [(b"content-type", protocol.JSON.encode())]
    if err.retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(err.retry_after))).encode()))
    return err.status_code, headers, orjson.dumps(err.to_dict())


@functools.lru_cache(maxsize=64)
def _accepted(accept: bytes, media: str) -> frozenset[str]:
    return frozenset({protocol.media_type(part) for part in accept.decode("latin-1").split(",")} | {media})


def _deadline(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        message = f"{protocol.DEADLINE_HEADER} must be seconds since the epoch."
        raise InvalidInput(message, detail=raw.decode("latin-1")) from None
    if not math.isfinite(value):
        raise InvalidInput(f"{protocol.DEADLINE_HEADER} must be a finite number.", detail=raw.decode("latin-1"))
    return value


async def _body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the caller went away first."""
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def answer(
    host: ModelHost, method: str, headers: Iterable[tuple[bytes, bytes]], body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers (content-length is the caller's to add) and body answering one call.

    Shared by the ASGI endpoint and the Unix-socket server (``runners.sidecar.unix_server``); the
    method's metrics are the caller's to record once the answer is sent (``observe``).
    """
    content_type: bytes | None = None
    accept = b""
    raw_deadline: bytes | None = None
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name == b"accept":
            accept = value
        elif name == _DEADLINE:
            raw_deadline = value
    try:
        media = protocol.media_type(content_type.decode("latin-1") if content_type is not None else None)
        value = protocol.decode(body, media)
        result = await host.call(method, value, _deadline(raw_deadline))
        try:
            payload, out_media = protocol.encode(result, _accepted(accept, media))
        except (TypeError, ValueError) as exc:
            raise RunnerError("The method's result could not be encoded.", detail=str(exc)) from None
        return 200, [(b"content-type", out_media.encode("latin-1"))], payload
    except RunnerError as err:
        return error_body(err)
    except Exception as exc:  # a bug of ours: still a JSON answer, and the traceback in the log
        logger.exception("runner call %s failed", method)
        return error_body(RunnerError(detail=type(exc).__name__))


def observe(host: ModelHost, method: str, status: int, started: float) -> None:
    """Count one answered call of ``method`` (``started`` from ``time.perf_counter``)."""
    observer = host.method_metrics(method)
    if observer is not None:
        observer.request(status, time.perf_counter() - started)


class MethodEndpoint:
    def __init__(self, host: ModelHost) -> None:
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method = scope["path"][1:]
        body = await _body(receive)
        if body is None:
            return
        status, headers, payload = await answer(self.host, method, scope["headers"], body)
        headers.append((b"content-length", str(len(payload)).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        observe(self.host, method, status, started)
