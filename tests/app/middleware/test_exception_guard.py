"""``ErrorMiddleware``: a JSON error for every exception, a traceback logged only where it helps."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.middleware.exception_guard import ErrorMiddleware
from app.server.http_errors import Timeout
from runners.errors import DeadlineExceeded, RunnerError, RunnerUnavailable


def _raising(exc: Exception) -> ErrorMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    return ErrorMiddleware(app)


async def _post(app: ErrorMiddleware) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post("/classify")


@pytest.mark.parametrize(
    "exc",
    [RunnerUnavailable("Runner 'iris' is unreachable.", retry_after=1.0), DeadlineExceeded(), Timeout()],
)
def test_a_503_or_504_is_one_warning_line_without_a_traceback(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tiffin.error"):
        response = asyncio.run(_post(_raising(exc)))
    assert response.status_code in (503, 504)
    [record] = [r for r in caplog.records if r.name == "tiffin.error"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert f"POST /classify: {response.status_code}" in record.getMessage()


@pytest.mark.parametrize("exc", [RuntimeError("bug"), RunnerError("the runner's own failure")])
def test_other_server_errors_log_their_traceback(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tiffin.error"):
        response = asyncio.run(_post(_raising(exc)))
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "tiffin.error"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
