"""``max_request_size``: larger bodies get 413, counted as they arrive, never buffered whole.

A declared ``Content-Length`` is checked up front; only bodies of unknown length (chunked) are
counted as they arrive.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.http_errors import PayloadTooLarge, error_response


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared <= self.max_bytes:
            # HTTP/1.1 servers (httptools, h11) read exactly the declared length, and refuse a
            # request that also says chunked: nothing to count.
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(detail={"max_request_size": self.max_bytes})
        if declared is not None:
            await error_response(too_large)(scope, receive, send)
            return
        seen = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise too_large
            return message

        async def guarded_send(message: Message) -> None:
            # The app may have answered its own error for the failed read; ours replaces it.
            nonlocal answered
            if exceeded:
                if not answered:
                    answered = True
                    await error_response(too_large)(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLarge:
            if not answered:
                answered = True
                await error_response(too_large)(scope, receive, send)
