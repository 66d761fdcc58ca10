"""``PooledTransport``: the default ``Transport``, keep-alive connections pooled per origin.

Each origin (``http://10.0.0.5:3001``, or a Unix socket as ``http+unix://%2Ftmp%2Fr.sock``) has
its own small pool: idle connections are reused newest first, so a burst's extra connections
age out; one idle longer than ``keepalive_expiry`` (shorter than the runner's own keep-alive,
so the runner never closes one as we reuse it) is closed when next seen. At most
``max_connections`` are open per origin; further requests wait for one to come back.

Per request, the only timer is one ``call_at`` for the request's deadline, cancelled as soon as
the answer (or a failure) arrives. Connecting has its own timeout (``connect_timeout``).
Failures are the seam's (``runners.client.transport``): ``ConnectFailed``/``ConnectTimedOut`` before
anything was sent, ``ConnectionLost`` and ``TimedOut`` after.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from runners.client.balancer import UNIX_SCHEME
from runners.client.connection import Connection, request_bytes
from runners.client.transport import ConnectFailed, ConnectTimedOut, RawResponse, TimedOut

__all__ = ["PooledTransport", "split_url"]


def split_url(url: str) -> tuple[str, str]:
    """``("http://h:1", "/p?q")`` from ``"http://h:1/p?q"``: the origin and the request target."""
    start = url.find("://")
    if start < 0:
        raise ValueError(f"not an absolute URL: {url!r}")
    slash = url.find("/", start + 3)
    return (url, "/") if slash < 0 else (url[:slash], url[slash:])


class _Origin:
    """Where an origin's connections go, and the Host header its requests carry."""

    def __init__(self, origin: str) -> None:
        scheme, _, authority = origin.partition("://")
        self.unix_path: str | None = None
        self.host, self.port = "", 0
        if scheme == UNIX_SCHEME:
            self.unix_path = unquote(authority)
            self.host_header = "localhost"
        elif scheme == "http":
            parts = urlsplit(origin)
            if not parts.hostname:
                raise ValueError(f"no host in {origin!r}")
            self.host, self.port = parts.hostname, parts.port or 80
            self.host_header = authority
        else:
            raise ValueError(f"unsupported scheme {scheme!r} in {origin!r} (http:// or {UNIX_SCHEME}://)")

    async def connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        if self.unix_path is not None:
            _, protocol = await loop.create_unix_connection(Connection, self.unix_path)
        else:
            # asyncio and uvloop both set TCP_NODELAY on TCP connections; each request is one write anyway
            _, protocol = await loop.create_connection(Connection, self.host, self.port)
        return protocol


class _Pool:
    """One origin's connections, on the loop that made the pool (a transport serves one loop)."""

    def __init__(self, origin: _Origin, max_connections: int, keepalive_expiry: float) -> None:
        # Kept, not looked up per request: Python 3.11's get_running_loop() makes a getpid system call.
        self.loop = asyncio.get_running_loop()
        self.origin = origin
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._idle: deque[Connection] = deque()
        self._open = 0  # connections in use or being opened (the idle ones are not counted)
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._closed = False

    async def acquire(self, connect_timeout: float, deadline: float) -> Connection:
        now = self.loop.time()
        idle = self._idle
        while idle and (idle[0].closed or now - idle[0].idle_since > self._expiry):
            idle.popleft().close()  # the oldest first: closed by the runner, or too old to trust
        while idle:
            conn = idle.pop()
            if not conn.closed:
                self._open += 1
                return conn
        if self._closed:
            raise ConnectFailed("the transport was closed")
        if self._open >= self._max:
            reused = await self._wait(deadline)
            if reused is not None:
                return reused  # counted as open by release()
        else:
            self._open += 1
        try:
            return await self._connect(connect_timeout)
        except BaseException:
            self._give_back_slot()
            raise

    def release(self, conn: Connection) -> None:
        """Return a connection after its exchange; a closed or busy one only frees its slot."""
        if conn.closed or conn.busy or self._closed:
            conn.close()
            self._give_back_slot()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)  # stays counted as open, now for the waiter
                return
        self._open -= 1
        conn.idle_since = self.loop.time()
        self._idle.append(conn)

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.popleft().close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectFailed("the transport was closed"))

    def _give_back_slot(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # a free slot: the waiter connects
                return
        self._open -= 1

    async def _wait(self, deadline: float) -> Connection | None:
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        self._waiters.append(waiter)
        timer = self.loop.call_at(deadline, _expire, waiter, "no connection to the runner came free in time")
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()  # handed over just as we gave up: pass it on
                if handed is None:
                    self._give_back_slot()
                else:
                    self.release(handed)
            raise
        finally:
            timer.cancel()

    async def _connect(self, connect_timeout: float) -> Connection:
        try:
            async with asyncio.timeout(connect_timeout):
                return await self.origin.connect()
        except TimeoutError:
            raise ConnectTimedOut(f"no connection within {connect_timeout:.3g} s") from None
        except OSError as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc


def _expire(waiter: asyncio.Future[Any], reason: str) -> None:
    if not waiter.done():
        waiter.set_exception(TimedOut(reason))


class PooledTransport:
    """Keep-alive HTTP/1.1 over asyncio and httptools, up to ``max_connections`` per origin.

    One transport serves one event loop (as one ``RunnerClient`` does): its pools keep the loop
    they were made on.
    """

    def __init__(self, *, max_connections: int = 64, keepalive_expiry: float = 15.0) -> None:
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._pools: dict[str, _Pool] = {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float,
        connect_timeout: float,
    ) -> RawResponse:
        origin, target = split_url(url)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(_Origin(origin), self._max, self._expiry)
        data = request_bytes(method, target, headers.get("host") or pool.origin.host_header, headers, content)
        loop = pool.loop
        deadline = loop.time() + timeout
        conn = await pool.acquire(min(connect_timeout, timeout), deadline)
        try:
            waiter = conn.send(data)
        except BaseException:
            pool.release(conn)
            raise
        timer = loop.call_at(deadline, _expire, waiter, f"no answer within {timeout:.3g} s")
        try:
            return await waiter
        finally:
            timer.cancel()
            pool.release(conn)  # closed there if the exchange did not finish

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()
