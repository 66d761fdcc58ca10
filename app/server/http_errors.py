"""Errors the API server answers with, and the one place they become responses.

    ServiceError                 500  base; also what user-code exceptions are reported as
    ├── BadOutput                500  an API returned what its output descriptor does not allow
    ├── BadInput                 400  malformed body, wrong dtype/shape, failed validation
    ├── NotFound                 404  no such route
    ├── MethodNotAllowed         405  the route exists, the method does not
    ├── RequestTimeout           408  server.timeout passed while the client was still sending the body
    ├── PayloadTooLarge          413  body over server.max_request_size
    ├── UnsupportedMediaType     415  a content type the API does not take
    ├── Overloaded               503  over max_concurrency, runner queue full (Retry-After)
    ├── Unavailable              503  a runner cannot be reached or is not ready
    └── Timeout                  504  server.timeout passed

Runner errors (``runners.errors.RunnerError``) carry their own status and map the same way, and so
does a Starlette ``HTTPException`` of 4xx raised by a mounted app or route that has no handler
of its own (``StaticFiles`` raises 404 for a missing file): the client's error, not ours.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response

from runners.errors import RunnerError


class ServiceError(Exception):
    status_code: int = 500
    message: str = "Internal server error."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.detail = detail
        self.headers = headers or {}
        super().__init__(self.message)


class BadOutput(ServiceError):
    """User code returned a value its output descriptor does not allow (a bug, hence 500)."""

    message = "The API returned a value its output descriptor does not allow."

    def naming(self, api: str) -> BadOutput:
        """The same error, its message naming the API that returned the value."""
        message = f"The API {api!r} returned a value its output does not allow. {self.message}"
        return BadOutput(message, detail=self.detail)


class BadInput(ServiceError):
    status_code = 400
    message = "The request body is not valid input for this API."


class NotFound(ServiceError):
    status_code = 404
    message = "No route matches this path."


class MethodNotAllowed(ServiceError):
    status_code = 405
    message = "This route does not accept this method."


class RequestTimeout(ServiceError):
    status_code = 408
    message = "The request body did not arrive within the server's timeout."


class PayloadTooLarge(ServiceError):
    status_code = 413
    message = "The request body is larger than the server accepts."


class UnsupportedMediaType(ServiceError):
    status_code = 415
    message = "This API does not accept this content type."


class Overloaded(ServiceError):
    status_code = 503
    message = "The server is at capacity; retry later."


class Unavailable(ServiceError):
    status_code = 503
    message = "The service is not available."


class Timeout(ServiceError):
    status_code = 504
    message = "The request took longer than the server's timeout."


def error_body(message: str, detail: Any = None) -> bytes:
    """``{"error": message, "detail": detail}``, whatever the detail holds.

    A detail built from hostile input (a shape of 10**32, JSON nested past orjson's limit) must
    not turn a 4xx into a failed answer: what orjson cannot write goes through ``json`` with
    everything as text, and a detail nothing can write is left out."""
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    try:
        return orjson.dumps(body, default=str)
    except (TypeError, orjson.JSONEncodeError):  # an int over 64 bits, nesting past 255 levels
        pass
    try:
        return json.dumps(body, default=str, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError):
        return orjson.dumps({"error": message})


def describe(exc: BaseException) -> tuple[int, str, Any, dict[str, str]]:
    """Status, message, detail and headers of the JSON error for any exception (one place, by type)."""
    headers: dict[str, str] = {}
    if isinstance(exc, ServiceError):
        status, message, detail = exc.status_code, exc.message, exc.detail
        headers.update(exc.headers)
    elif isinstance(exc, RunnerError):
        status, message, detail = exc.status_code, exc.message, exc.detail
        if status == 503:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after or 1)))
        if status == 500:
            detail = None  # the runner's own failure text stays in the logs
    elif isinstance(exc, HTTPException) and 400 <= exc.status_code < 500:
        status, message, detail = exc.status_code, _phrase(exc.status_code), None
        headers.update(exc.headers or {})
    else:
        status, message, detail = 500, ServiceError.message, None
    if status == 503 and "Retry-After" not in headers:
        headers["Retry-After"] = "1"
    return status, message, detail, headers


def is_client_error(exc: BaseException) -> bool:
    """An error whose answer is a 4xx: the request's fault, not worth a traceback in the log."""
    return describe(exc)[0] < 500


def _phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return "The request was refused."


def error_response(exc: BaseException) -> Response:
    """The JSON response for any exception; unknown ones become a generic 500."""
    status, message, detail, headers = describe(exc)
    return Response(error_body(message, detail), status_code=status, headers=headers, media_type="application/json")
