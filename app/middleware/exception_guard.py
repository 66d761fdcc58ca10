"""The last line of defence: any exception becomes a JSON error, with the traceback logged.

A 503 or 504 (a runner down, full or too slow, the server's own deadline) is logged as one
warning line instead: its message says what happened, and a traceback per request would flood
the log, and take CPU, just while a runner is being restarted.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from app.middleware.tracking import TrackedSend
from app.server.http_errors import ServiceError, error_response, is_client_error
from runners.errors import RunnerError

logger = logging.getLogger("tiffin.error")


OPERATIONAL = frozenset({503, 504})


def log_failure(exc: BaseException, scope: Scope) -> None:
    if is_client_error(exc):
        return
    rid = scope.get("state", {}).get("request_id")
    if isinstance(exc, (ServiceError, RunnerError)):
        if exc.status_code in OPERATIONAL:
            logger.warning(
                "request %s %s: %d %s [request_id=%s]",
                scope.get("method"), scope.get("path"), exc.status_code, exc.message, rid,
            )  # fmt: skip
            return
    logger.error("request %s %s failed [request_id=%s]", scope.get("method"), scope.get("path"), rid, exc_info=exc)


class ErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log_failure(exc, scope)
            if tracked.started:
                raise
            await error_response(exc)(scope, receive, send)
