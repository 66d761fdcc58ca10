"""``POST /<method>`` of a generator method: its values as frames, each sent as soon as it is made.

The answer is ``200`` with a body of frames (``runners.wire.frames``) when the caller accepts
``application/vnd.tiffin.stream``, the input decodes and the caller's deadline has not passed;
otherwise the usual JSON error. An error while the model
generates ends the stream with an error frame. The model's side is ``ModelStream``.

When the caller goes away, the server stops reading the frames and closes them
(``StreamAnswer.frames.aclose()``): the model's generator is closed at its ``yield`` (right after
the step in progress, if one is), so the model stops generating.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

from runners import tracing
from runners.errors import DeadlineExceeded, InvalidInput, RunnerError
from runners.sidecar.batching import as_runner_error
from runners.sidecar.calls import Answer, Headers, error_body
from runners.sidecar.model_stream import ModelStream
from runners.wire import frames, protocol

__all__ = ["StreamAnswer", "answer_stream"]

logger = logging.getLogger("runners.sidecar.streams")

_DEADLINE = protocol.DEADLINE_HEADER.lower().encode("latin-1")


@dataclass(eq=False)
class StreamAnswer:
    """What the servers write as a chunked body, one frame per chunk."""

    status: int
    headers: Headers
    frames: AsyncGenerator[bytes, None]


def _parse(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, frozenset[str], float | None]:
    media, accept, deadline = "", {protocol.VALUE}, None
    for name, raw in headers:
        if name == b"content-type":
            media = protocol.media_type(raw.decode("latin-1"))
        elif name == b"accept":
            accept |= {protocol.media_type(part) for part in raw.decode("latin-1").split(",")}
        elif name == _DEADLINE:
            try:
                deadline = float(raw)
            except ValueError:
                raise InvalidInput(f"{protocol.DEADLINE_HEADER} must be seconds since the epoch.") from None
            if not math.isfinite(deadline):
                raise InvalidInput(f"{protocol.DEADLINE_HEADER} must be a finite number.")
    return media, frozenset(accept | {media}), deadline


async def answer_stream(
    stream: ModelStream, method: str, headers: Iterable[tuple[bytes, bytes]], body: bytes
) -> Answer | StreamAnswer:
    headers = list(headers)
    try:
        media, accept, deadline = _parse(headers)
        if frames.STREAM not in accept:
            raise InvalidInput(f"Method {method!r} streams its values: call it with async_stream().")
        value = protocol.decode_call(body, media)
        if deadline is not None and deadline <= time.time():
            raise DeadlineExceeded()
    except RunnerError as err:
        return error_body(err)
    span = None
    if tracing.is_on():
        attributes = {"tiffin.runner.method": method, "tiffin.stream": True}
        span = tracing.start_server(f"POST /{method}", headers, attributes)
    content_type = [(b"content-type", frames.STREAM.encode("latin-1"))]
    return StreamAnswer(200, content_type, _frames(stream, value, accept, span))


async def _frames(stream: ModelStream, value: Any, accept: frozenset[str], span: Any) -> AsyncGenerator[bytes, None]:
    model = tracing.start(f"model {stream.name}", parent=span) if span is not None else None
    values = stream.values(value)
    error: str | None = None
    count = 0
    try:
        async for item in values:
            count += 1
            try:
                frame = frames.data_frame(item, accept)
            except (TypeError, ValueError) as exc:
                raise RunnerError("A value of the stream could not be encoded.", detail=str(exc)) from None
            yield frame
        yield frames.END_FRAME
    except RunnerError as err:
        error = type(err).__name__
        yield frames.error_frame(err)
    except Exception as exc:
        error = type(exc).__name__
        if not isinstance(exc, (ValueError, TypeError, KeyError, IndexError)):
            logger.error("runner stream %s failed", stream.name, exc_info=exc)
        yield frames.error_frame(as_runner_error(exc))
    finally:
        await values.aclose()
        for s in (model, span):
            if s is not None:
                s.set_attribute("tiffin.stream.values", count)
            tracing.end(s, error=error)
