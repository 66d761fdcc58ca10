"""One structured line per request on the ``tiffin.access`` logger, written when the response ends.

Fields: method, path, route (the template), status, duration_ms, bytes (of the body sent),
request_id, trace_id (``null`` unless tracing is on), and first_chunk_ms for a streamed response.

Emitted on every request, so built cheaply: one ``orjson.dumps`` and a record handed straight to
the logger (``app.process.logs.LineFormatter`` formats it without ``strftime`` per line).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson

logger = logging.getLogger("tiffin.access")


class AccessLog:
    def __init__(self, *, enabled: bool = True, skip_paths: Iterable[str] = ()) -> None:
        self.enabled = enabled
        self.skip = frozenset(skip_paths)

    def wants(self, path: str) -> bool:
        return self.enabled and path not in self.skip and logger.isEnabledFor(logging.INFO)

    def record(
        self,
        *,
        method: str,
        path: str,
        route: str,
        status: int,
        seconds: float,
        request_id: str | None,
        trace_id: str | None = None,
        sent: int = 0,
        first_chunk: float | None = None,
    ) -> None:
        line: dict[str, object] = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "bytes": sent,
            "request_id": request_id,
            "trace_id": trace_id,
        }
        if first_chunk is not None:  # a streamed response
            line["first_chunk_ms"] = round(first_chunk * 1000, 3)
        # logger.handle(makeRecord(...)) is what logger.info does, minus looking up the caller's
        # frame, which an access line does not show: a per-request saving of some 10 µs.
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, orjson.dumps(line).decode(), (), None)
        logger.handle(record)
