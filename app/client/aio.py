"""``AsyncClient``: the same calls as ``SyncClient``, awaited.

    async with AsyncClient("http://127.0.0.1:3000") as client:
        await client.classify(arr)
        await client.call("classify", arr)

    client = await AsyncClient.from_url("http://127.0.0.1:3000")   # BentoML's spelling

The API table (``/docs.json``) is read on entering ``async with``, in ``from_url``, or by the
first call, since a constructor cannot await. Until then any public attribute is taken for an
API name and checked when awaited.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.client.calls import (
    DEFAULT_TIMEOUT,
    DOCS,
    Call,
    Health,
    Table,
    base_url,
    http_kind,
    httpx,
    retry_delay,
    transport_error,
)
from app.client.errors import DeadlineExceeded

__all__ = ["AsyncClient"]


class AsyncClient:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        http: Any = None,
        table: Table | None = None,
    ) -> None:
        """As ``SyncClient``; ``http`` is an ``httpx.AsyncClient`` (e.g. over ``httpx.ASGITransport``)."""
        self.server_url = base_url(url)
        self.timeout = float(timeout)
        self.headers = dict(headers or {})
        self.retry = retry
        self._owns_http = http is None
        self._http = http if http is not None else httpx().AsyncClient(timeout=self.timeout)
        self._table = table
        self._loading: asyncio.Lock | None = None
        if table is not None:
            self._expose(table)

    @classmethod
    async def from_url(cls, server_url: str, *, kind: str | None = None, **kwargs: Any) -> AsyncClient:
        http_kind(kind)
        client = cls(server_url, **kwargs)
        try:
            await client.load()
        except BaseException:
            await client.close()  # nothing else will: the caller never gets the client
            raise
        return client

    @property
    def endpoints(self) -> list[str]:
        return list(self._table.endpoints) if self._table is not None else []

    async def load(self) -> Table:
        """Read ``/docs.json`` (once) and expose each API as a method."""
        if self._table is None:
            if self._loading is None:
                self._loading = asyncio.Lock()
            async with self._loading:
                if self._table is None:
                    table = await self._read_table()
                    self._expose(table)
                    self._table = table
        return self._table

    async def _read_table(self) -> Table:
        deadline = time.monotonic() + self.timeout
        while True:
            response = await self._get(DOCS, max(0.001, deadline - time.monotonic()))
            delay = retry_delay(response.status_code, response.headers, deadline) if self.retry else None
            if delay is None:
                return Table(self.server_url, response.status_code, response.content)
            await asyncio.sleep(delay)

    def _expose(self, table: Table) -> None:
        for name in table.endpoints:
            if not hasattr(type(self), name) and name not in self.__dict__:
                setattr(self, name, functools.partial(self.call, name))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_") or self.__dict__.get("_table") is not None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return functools.partial(self.call, name)  # checked against the table once it is read

    async def _get(self, path: str, timeout: float) -> Any:
        module = httpx()
        try:
            return await self._http.get(self.server_url + path, headers=self.headers, timeout=timeout)
        except module.TimeoutException as exc:
            raise DeadlineExceeded(f"{self.server_url}{path}: no answer within {timeout:g}s") from exc
        except module.TransportError as exc:
            raise transport_error(self.server_url, exc) from exc

    async def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call API ``name`` with one input value, or with keyword arguments (multipart parts, JSON fields)."""
        table = await self.load()
        call = Call(table[name], args, kwargs, timeout=self.timeout, headers=self.headers, retry=self.retry)
        module = httpx()
        url = self.server_url + call.endpoint.route
        while True:
            try:
                response = await self._http.post(
                    url, content=call.content, headers=call.headers, timeout=call.remaining()
                )
            except module.TimeoutException as exc:
                raise call.timed_out(exc) from exc
            except module.TransportError as exc:
                raise transport_error(self.server_url, exc) from exc
            value, delay = call.outcome(response.status_code, response.headers, response.content)
            if delay is None:
                return value
            await asyncio.sleep(delay)

    async def health(self) -> Health:
        response = await self._get("/readyz", min(self.timeout, 10.0))
        return Health.of(response.status_code, response.headers, response.content)

    @staticmethod
    async def wait_until_server_ready(host: str, port: int, timeout: float = 30, check_interval: float = 0.2) -> None:
        module = httpx()
        url = f"{base_url(host)}:{port}/readyz"
        deadline = time.monotonic() + timeout
        last: object = None
        async with module.AsyncClient() as http:
            while time.monotonic() < deadline:
                try:
                    response = await http.get(url, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                    if response.status_code == 200:
                        return
                    last = response.status_code
                except module.HTTPError as exc:
                    last = exc
                await asyncio.sleep(check_interval)
        raise DeadlineExceeded(f"{url} was not ready within {timeout:g}s (last: {last!r})")

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        await self.load()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.server_url} APIs={self.endpoints or '(not read yet)'}>"
