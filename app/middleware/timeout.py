"""``timeout``: past it the request is answered 504, and its deadline goes to the runner."""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from app.middleware.tracking import TrackedSend
from app.server.http_errors import Timeout, error_response
from runners.wire import deadline


class TimeoutMiddleware:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)

        with deadline.scope(time.time() + self.seconds):
            try:
                async with asyncio.timeout(self.seconds):
                    await self.app(scope, receive, tracked)
            except TimeoutError:
                if tracked.started:
                    raise
                await error_response(Timeout(detail={"timeout": self.seconds}))(scope, receive, send)
