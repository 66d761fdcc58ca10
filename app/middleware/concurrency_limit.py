"""``max_concurrency``: over the limit → 503 + Retry-After; probes and /metrics are exempt."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.process.shared_slots import Slots
from app.server.http_errors import Overloaded, error_response
from runners.wire.probes import INFRASTRUCTURE_PATHS

EXEMPT = INFRASTRUCTURE_PATHS


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, slots: Slots, exempt: Iterable[str] = EXEMPT) -> None:
        self.app = app
        self.limit = limit
        self.slots = slots
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if not self.slots.try_acquire(self.limit):
            overloaded = Overloaded(
                detail={"max_concurrency": self.limit}, headers={"Retry-After": "1"}
            )
            await error_response(overloaded)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()
