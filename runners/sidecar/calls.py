"""``POST /<method>``: one call of a runner method, answered as status, headers and body.

Every inference request to the sidecar passes here, whichever server carried it (see
``runners.sidecar.routes``). What it does is the wire protocol of ``runners.wire.protocol``:
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

from runners.errors import InvalidInput, RunnerError
from runners.sidecar.host import ModelHost
from runners.wire import protocol, values

__all__ = ["Answer", "Headers", "answer", "error_body", "observe"]

logger = logging.getLogger("runners.sidecar")

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]  # status, headers (content-length is the server's to add), body

_DEADLINE = protocol.DEADLINE_HEADER.lower().encode("latin-1")


def error_body(err: RunnerError) -> Answer:
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


async def answer(host: ModelHost, method: str, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> Answer:
    """The answer to one call; its metrics are the server's to record once it is sent (``observe``)."""
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
        call = protocol.decode_call(body, media)
        result = await host.call(method, call, _deadline(raw_deadline))
        try:
            payload, out_media = protocol.encode(result, _accepted(accept, media))
        except values.UnsendableValue as exc:
            detail = str(values.locate(result, exc).named("the result"))
            raise RunnerError("The method's result could not be encoded.", detail=detail) from None
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
