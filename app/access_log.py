"""One structured line per request on the ``tiffin.access`` logger."""

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

    def record(self, *, method: str, path: str, route: str, status: int, seconds: float, request_id: str | None) -> None:
        line = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": request_id,
        }
        logger.info(orjson.dumps(line).decode())
