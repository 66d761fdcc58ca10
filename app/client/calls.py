"""What the sync and the async client share: the API table, one call's request, and the meaning
of each answer under the client's deadline.

A call has one deadline (``timeout`` seconds from its start). Each attempt may use what is
left of it. A ``503`` with ``Retry-After`` -- the server over ``max_concurrency``, a runner's
queue full or a runner unreachable -- is tried again after that many seconds when the deadline
leaves room for it, as the server itself waits on its runners; any other error answer is
raised at once, as the exception for its status (``app.client.errors``). Failing to connect
is not retried: the server is not there.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import orjson

from app.client import codec
from app.client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    NotATiffinServer,
    ServerError,
    UnknownAPI,
    error_for,
    retry_after,
)
from app.client.spec import Endpoint, endpoints

__all__ = ["DEFAULT_TIMEOUT", "Call", "Health", "Table", "httpx", "retry_delay", "transport_error"]

DEFAULT_TIMEOUT = 60.0  # the server's default request timeout
DOCS = "/docs.json"


def httpx() -> ModuleType:
    """httpx, which the client sends with; it is the ``client`` extra (``pip install 'tiffin[client]'``)."""
    try:
        return importlib.import_module("httpx")
    except ImportError:
        raise ImportError(
            "app.client needs httpx, which is not installed: pip install 'tiffin[client]' (or pip install httpx)"
        ) from None


def http_kind(kind: str | None) -> None:
    """BentoML's ``from_url(..., kind=)``: tiffin speaks HTTP only."""
    if kind not in (None, "auto", "http"):
        raise ValueError(f"kind={kind!r}: tiffin servers speak HTTP only ('auto' or 'http')")


def base_url(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


@dataclass(frozen=True)
class Health:
    """The answer of ``/readyz``: ``status`` (also ``status_code``) is 200 once every runner is ready."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def ready(self) -> bool:
        return self.status == 200

    @classmethod
    def of(cls, status: int, headers: Mapping[str, str], body: bytes) -> Health:
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = body
        return cls(status, parsed, dict(headers))


class Table:
    """The server's APIs, read from its ``/docs.json``."""

    def __init__(self, url: str, status: int, body: bytes) -> None:
        source = f"{url}{DOCS}"
        if status != 200:
            raise NotATiffinServer(f"{source} answered {status}; is {url} a tiffin server?")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise NotATiffinServer(f"{source} is not JSON: {exc}") from None
        self.title = str((document.get("info") or {}).get("title") or "") if isinstance(document, dict) else ""
        self.endpoints = endpoints(document, source)

    def __getitem__(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            known = ", ".join(sorted(self.endpoints)) or "none"
            raise UnknownAPI(f"the service has no API named {name!r} (APIs: {known})") from None


class Call:
    """One call of an API: the request to send, and what to do with each answer."""

    def __init__(
        self,
        endpoint: Endpoint,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        timeout: float,
        headers: Mapping[str, str],
        retry: bool,
    ) -> None:
        self.endpoint = endpoint
        if not args and set(kwargs) == {"inp"} and "inp" not in (*endpoint.parts, *endpoint.fields):
            args, kwargs = (kwargs["inp"],), {}  # BentoML's call(name, inp=value)
        self.content, content_type = codec.encode(endpoint, args, kwargs)
        self.headers = {**headers, "content-type": content_type}
        accept = codec.accept_header(endpoint)
        if accept:
            self.headers.setdefault("accept", accept)
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.retry = retry

    def remaining(self) -> float:
        """Seconds left for the next attempt; ``DeadlineExceeded`` when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"{self.endpoint.name}: no answer within {self.timeout:g}s")
        return left

    def outcome(self, status: int, headers: Mapping[str, str], body: bytes) -> tuple[Any, float | None]:
        """``(value, None)`` for a success, ``(None, delay)`` to try again after ``delay``; else raises."""
        if 200 <= status < 300:
            return codec.decode(self.endpoint, headers.get("content-type"), body), None
        error = error_for(status, headers, body)
        delay = self._retry_delay(error)
        if delay is None:
            raise error
        return None, delay

    def _retry_delay(self, error: ServerError) -> float | None:
        if not self.retry or error.status_code != 503 or error.retry_after is None:
            return None
        return _delay_within(error.retry_after, self.deadline)

    def timed_out(self, exc: Exception) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.endpoint.name}: no answer within {self.timeout:g}s ({exc})")


def retry_delay(status: int, headers: Mapping[str, str], deadline: float) -> float | None:
    """How long to wait before trying a 503 + Retry-After again, or ``None`` to take the answer."""
    if status != 503:
        return None
    seconds = retry_after(headers)
    return _delay_within(seconds, deadline) if seconds is not None else None


def _delay_within(seconds: float, deadline: float) -> float | None:
    if time.monotonic() + seconds >= deadline:
        return None  # waiting would pass the deadline: the 503 is the answer
    return seconds


def transport_error(url: str, exc: Exception) -> ConnectionFailed:
    return ConnectionFailed(f"cannot reach {url}: {type(exc).__name__}: {exc}")
