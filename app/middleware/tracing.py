"""The request's server span: W3C ``traceparent``/``tracestate`` in from the caller and back out.

In the stack only when ``tracing.enabled``; outside the access log, which writes the span's
trace id (``scope["state"]["trace_id"]``). Named by the route template, like the metrics.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.route_templates import TemplateResolver
from runners import tracing


class TracingMiddleware:
    def __init__(self, app: ASGIApp, *, templates: TemplateResolver) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.is_on():
            await self.app(scope, receive, send)
            return
        route = self.templates.resolve(scope)
        method = scope["method"]
        state = scope.setdefault("state", {})
        attributes = {
            "http.request.method": method,
            "http.route": route,
            "url.path": scope["path"],
            "tiffin.request_id": state.get("request_id") or "",
        }
        with tracing.server_span(f"{method} {route}", scope.get("headers", ()), attributes) as span:
            state["trace_id"] = tracing.trace_id(span)
            echo = tracing.traceparent(span)

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        tracing.fail(span, f"answered {status}")
                    names = {b"traceparent", b"tracestate"}
                    message["headers"] = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                    message["headers"].extend(echo)
                await send(message)

            await self.app(scope, receive, send_traced)
