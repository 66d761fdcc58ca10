"""What the sidecar answers, whichever server carries the request (uvicorn over TCP, or the Unix socket).

    GET  /livez, /healthz     200 from the first moment
    GET  /readyz              200 once the model is loaded; 503 + Retry-After while it loads or drains
    GET  /info                the model's tag, framework, methods and batching settings
    GET  /metrics             Prometheus text: the runner's metrics (all of its workers') and the model's own
    POST /<method>            one call of the model (``runners.sidecar.calls.answer``), or of a
                              generator method, streamed (``runners.sidecar.streams``)
    anything else             404, or 405 (with ``Allow``) for a known path with the wrong method

``HEAD`` is answered as ``GET``; the servers leave the body out.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from runners import tracing
from runners.sidecar import exposition
from runners.sidecar.calls import Answer, Headers, answer
from runners.sidecar.host import ModelHost
from runners.sidecar.streams import StreamAnswer, answer_stream
from runners.sidecar.traced import traced_answer
from runners.wire import protocol
from runners.wire.probes import LIVE_BODY, LIVENESS_PATHS, READINESS_PATH

__all__ = ["Routes", "call_name"]

_JSON = protocol.JSON.encode()
_GET = (b"GET", b"HEAD")
_NOT_FOUND = {"error": "Not Found", "type": "NotFound"}
_NOT_ALLOWED = {"error": "Method Not Allowed", "type": "MethodNotAllowed"}


def _json(status: int, body: object, headers: Headers | None = None) -> Answer:
    return status, [(b"content-type", _JSON), *(headers or [])], orjson.dumps(body)


def call_name(path: str) -> str | None:
    """The runner method a path names (``/predict`` → ``predict``), if it names one."""
    name = path[1:]
    return name if name and "/" not in name else None


class Routes:
    def __init__(self, host: ModelHost, registry: CollectorRegistry) -> None:
        self.host = host
        self.registry = registry
        self._get = {
            **{path: self._live for path in LIVENESS_PATHS},
            READINESS_PATH: self._ready,
            "/info": self._info,
            "/metrics": self._metrics,
        }

    async def respond(
        self, method: bytes, path: str, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> Answer | StreamAnswer:
        if method == b"POST" and self.host.serves(path[1:]):  # the hot path: a call of a loaded method
            stream = self.host.stream(path[1:])
            if stream is not None:  # a generator method: a chunked answer, one frame per value
                return await answer_stream(stream, path[1:], headers, body)
            if tracing.is_on():
                return await traced_answer(self.host, path[1:], headers, body)
            return await answer(self.host, path[1:], headers, body)
        page = self._get.get(path)
        if page is not None:
            return page() if method in _GET else _json(405, _NOT_ALLOWED, [(b"allow", b"GET, HEAD")])
        name = call_name(path)
        if name is None:
            return _json(404, _NOT_FOUND)
        if method != b"POST":
            return _json(405, _NOT_ALLOWED, [(b"allow", b"POST")])
        return await answer(self.host, name, headers, body)  # loading, or no such method: its error

    def _live(self) -> Answer:
        return 200, [(b"content-type", _JSON)], LIVE_BODY

    def _ready(self) -> Answer:
        if self.host.ready:
            return _json(200, {"status": "ready"})
        return _json(503, {"status": self.host.state, "error": self.host.error}, [(b"retry-after", b"1")])

    def _info(self) -> Answer:
        return _json(200, self.host.describe())

    def _metrics(self) -> Answer:
        return 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], exposition.page(self.registry)
