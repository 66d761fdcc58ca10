"""Measure every request once: metrics by route template, and the access log."""

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
        gauge = self.metrics.started(endpoint, method) if self.metrics else None

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - start
            if gauge is not None:
                gauge.dec()
                self.metrics.finished(endpoint, method, status, seconds)  # type: ignore[union-attr]
            path = scope["path"]
            if self.access.wants(path):
                rid = scope.get("state", {}).get("request_id")
                self.access.record(
                    method=method, path=path, route=endpoint, status=status, seconds=seconds, request_id=rid
                )
