"""The seam between ``RunnerClient`` and the HTTP library under it: one request, bytes in and out.

A ``Transport`` sends one request to an absolute URL and returns the whole answer, or raises one
of four failures, which the client maps to the runner errors callers see::

    TransportError                 the exchange failed; the request may have reached the runner
    ├── ConnectFailed              no connection: the request never left, another replica may take it
    │   └── ConnectTimedOut        no connection within the connect timeout
    ├── ConnectionLost             the connection closed before a whole answer came
    └── TimedOut                   no whole answer within the request's timeout

The default transport is ``runners.client.pool.PooledTransport`` (asyncio and httptools);
``runners.client.httpx_transport.HttpxTransport`` drives an ASGI app in-process for tests. A test can
also implement the protocol with a plain class, as httpx's ``MockTransport`` allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ConnectFailed",
    "ConnectTimedOut",
    "ConnectionLost",
    "RawResponse",
    "TimedOut",
    "Transport",
    "TransportError",
]


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes


class TransportError(Exception):
    """The exchange failed after the request may have reached the runner."""


class ConnectFailed(TransportError):
    """No connection was made: the request never reached the runner, so another one may take it."""


class ConnectTimedOut(ConnectFailed):
    """No connection within the connect timeout: a dead host, or an event loop too busy to notice."""


class ConnectionLost(TransportError):
    """The connection closed before an answer came (a runner restart, or a stale keep-alive)."""


class TimedOut(TransportError):
    """No whole answer within the request's timeout."""


class Transport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float,
        connect_timeout: float,
    ) -> RawResponse: ...

    async def aclose(self) -> None: ...
