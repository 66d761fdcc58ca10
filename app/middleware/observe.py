"""Measure every request once: metrics by route template, and the access log.

A response whose body comes in several chunks (``more_body``: a streaming API, a mounted app's
``StreamingResponse``, a WSGI generator) is also measured as a stream: its time to the first
chunk and to the last. Either way the access line is written when the response ends, with the
bytes of its body.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.access_log import AccessLog
from app.server.http_metrics import HttpMetrics
from app.server.route_templates import TemplateResolver


class ObserveMiddleware:
    def __init__(
        self, app: ASGIApp, *, templates: TemplateResolver, metrics: HttpMetrics | None, access: AccessLog
    ) -> None:
        self.app = app
        self.templates = templates
        self.metrics = metrics
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        endpoint = self.templates.resolve(scope)
        method = scope["method"]
        status = 500
        sent = 0
        first_chunk: float | None = None  # set for a body in several chunks
        gauge = self.metrics.started(endpoint, method) if self.metrics else None

        async def send_observed(message: Message) -> None:
            nonlocal status, sent, first_chunk
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
                if first_chunk is None and message.get("more_body", False):
                    first_chunk = time.perf_counter() - start
            elif kind == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - start
            if gauge is not None:
                gauge.dec()
                self.metrics.finished(endpoint, method, status, seconds)  # type: ignore[union-attr]
                if first_chunk is not None:
                    self.metrics.streamed(endpoint, method, first_chunk, seconds)  # type: ignore[union-attr]
            path = scope["path"]
            if self.access.wants(path):
                state = scope.get("state", {})
                self.access.record(
                    method=method,
                    path=path,
                    route=endpoint,
                    status=status,
                    seconds=seconds,
                    request_id=state.get("request_id"),
                    trace_id=state.get("trace_id"),
                    sent=sent,
                    first_chunk=first_chunk,
                )
