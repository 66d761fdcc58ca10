"""How a streaming API writes its chunks: chunked text, JSON lines, or Server-Sent Events.

=====================  ================================  =====================================
output                 body                              an error after the first chunk
=====================  ================================  =====================================
``Text``               ``text/plain``, each chunk as is  the connection is cut (no in-band
                                                         marker could be told from the text)
any other descriptor   ``application/x-ndjson``: one     a last line ``{"error": ...,
                       JSON value per line               "detail": ...}``
either, as SSE         ``text/event-stream``: one        an ``event: error`` whose data is
                       ``data:`` event per chunk         that JSON object
=====================  ================================  =====================================

SSE is chosen when the request's ``Accept`` names ``text/event-stream`` or the descriptor asks
for it (``Text(sse=True)``, ``JSON(sse=True)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.io.base import IODescriptor, media_type_of
from app.io.codec import dumps
from app.io.text import Text

__all__ = ["EVENT_STREAM", "JSON_LINES", "StreamFormat", "openapi_stream_content", "stream_format"]

EVENT_STREAM = "text/event-stream"
JSON_LINES = "application/x-ndjson"
_SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))


@dataclass(frozen=True)
class StreamFormat:
    media_type: str
    encode: Callable[[Any], bytes]
    """One chunk of the API's output as bytes of the body."""
    error: Callable[[dict[str, Any]], bytes] | None
    """The in-band end of a failed stream, or ``None``: the stream is cut instead."""
    headers: tuple[tuple[bytes, bytes], ...] = ()


def wants_event_stream(descriptor: IODescriptor, accept: str | None) -> bool:
    if getattr(descriptor, "sse", False):
        return True
    return bool(accept) and any(media_type_of(part) == EVENT_STREAM for part in str(accept).split(","))


def stream_format(descriptor: IODescriptor, accept: str | None) -> StreamFormat:
    text = isinstance(descriptor, Text)
    if wants_event_stream(descriptor, accept):
        return StreamFormat(
            EVENT_STREAM, _text_event if text else _json_event, _error_event, _SSE_HEADERS
        )
    if text:
        return StreamFormat("text/plain; charset=utf-8", _text_chunk, None)
    return StreamFormat(JSON_LINES, _json_line, _json_line)


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(f"A Text stream yields str, not {type(value).__name__}.")
    return value


def _text_chunk(value: Any) -> bytes:
    return _as_text(value).encode("utf-8")


def _event(data: str, event: str | None = None) -> bytes:
    # a line break inside the data needs a data: field per line, or it would end the event
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in data.replace("\r\n", "\n").split("\n")]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _text_event(value: Any) -> bytes:
    return _event(_as_text(value))


def _json_event(value: Any) -> bytes:
    return _event(dumps(value).decode("utf-8"))


def _json_line(value: Any) -> bytes:
    return dumps(value) + b"\n"


def _error_event(body: dict[str, Any]) -> bytes:
    return _event(dumps(body).decode("utf-8"), event="error")


def openapi_stream_content(descriptor: IODescriptor, content: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI ``content`` of a streamed response: each chunk has the schema of one value."""
    first: dict[str, Any] = next(iter(content.values()), {})
    item = first.get("schema", {})
    one = {"schema": item}
    body = "text/plain" if isinstance(descriptor, Text) else JSON_LINES
    return {body: one, EVENT_STREAM: one}
