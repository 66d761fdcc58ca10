"""What the client raises: every failure is a ``ClientError``.

    ClientError                  base
    ├── ConnectionFailed         no answer: the server could not be reached, or the connection broke
    ├── DeadlineExceeded         no answer within the client's timeout (also a ``TimeoutError``)
    ├── NotATiffinServer         ``/docs.json`` is missing, or is not an OpenAPI document
    ├── UnknownAPI               the server has no API of that name (also an ``AttributeError``)
    ├── UndecodableAnswer        a 2xx answer that does not decode as its content type says
    └── ServerError              the server answered an error; ``status_code``, ``error``, ``detail``,
        │                        ``retry_after``, ``request_id``; ``str()`` is ``"<status>: <error>"``
        ├── BadInput                 400
        ├── NotFound                 404
        ├── MethodNotAllowed         405
        ├── PayloadTooLarge          413
        ├── UnsupportedMediaType     415
        ├── InternalError            500
        ├── Unavailable              503, after the retries the deadline allowed
        └── Timeout                  504, the server's own timeout
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = [
    "BadInput",
    "ClientError",
    "ConnectionFailed",
    "DeadlineExceeded",
    "InternalError",
    "MethodNotAllowed",
    "NotATiffinServer",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "Timeout",
    "Unavailable",
    "UndecodableAnswer",
    "UnknownAPI",
    "UnsupportedMediaType",
    "error_for",
    "retry_after",
]


class ClientError(Exception):
    """Anything the client raises."""


class ConnectionFailed(ClientError, ConnectionError):
    """The server could not be reached, or the connection broke before an answer came."""


class DeadlineExceeded(ClientError, TimeoutError):
    """No answer within the client's timeout (retries included)."""


class NotATiffinServer(ClientError):
    """The server's ``/docs.json`` is missing, or is not an OpenAPI document."""


class UnknownAPI(ClientError, AttributeError):
    """The server has no API of that name."""


class UndecodableAnswer(ClientError):
    """A successful answer whose body does not decode as its content type says."""


class ServerError(ClientError):
    """The server answered with an error status and (for tiffin) its JSON error body."""

    status_code = 0

    def __init__(
        self,
        status_code: int,
        error: str,
        detail: Any = None,
        *,
        retry_after: float | None = None,
        request_id: str | None = None,
        body: bytes = b"",
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.retry_after = retry_after
        self.request_id = request_id
        self.body = body
        super().__init__(f"{status_code}: {error}")


class BadInput(ServerError):
    status_code = 400


class NotFound(ServerError):
    status_code = 404


class MethodNotAllowed(ServerError):
    status_code = 405


class PayloadTooLarge(ServerError):
    status_code = 413


class UnsupportedMediaType(ServerError):
    status_code = 415


class InternalError(ServerError):
    status_code = 500


class Unavailable(ServerError):
    status_code = 503


class Timeout(ServerError):
    status_code = 504


_BY_STATUS: dict[int, type[ServerError]] = {
    cls.status_code: cls
    for cls in (
        BadInput,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        UnsupportedMediaType,
        InternalError,
        Unavailable,
        Timeout,
    )
}


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (a number; an HTTP date is not waited for)."""
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_for(status_code: int, headers: Mapping[str, str], body: bytes) -> ServerError:
    """The exception for an error answer: the server's ``{"error", "detail"}``, else its first bytes."""
    error: str | None = None
    detail: Any = None
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        error, detail = parsed["error"], parsed.get("detail")
    elif isinstance(parsed, dict) and isinstance(parsed.get("detail"), str):  # FastAPI's shape
        error = parsed["detail"]
    if error is None:
        text = body[:200].decode("utf-8", errors="replace").strip()
        error = text or f"The server answered {status_code}."
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalError if status_code >= 500 else BadInput if status_code == 422 else ServerError
    return cls(
        status_code,
        error,
        detail,
        retry_after=retry_after(headers),
        request_id=headers.get("x-request-id"),
        body=body,
    )
