"""``Client``: BentoML's ``Client``/``HTTPClient`` shape, sync and async methods on one object.

    client = Client.from_url("http://127.0.0.1:3000")
    client.classify(arr)                       # blocking
    await client.async_classify(arr)           # awaited, in any event loop
    client.call("classify", arr); await client.async_call("classify", arr)
    client.health(); await client.async_health()

The API table is read once, by the sync side; each event loop that awaits gets its own
``AsyncClient`` sharing it (an httpx async client belongs to one loop).
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Mapping
from typing import Any

from app.client.aio import AsyncClient
from app.client.calls import DEFAULT_TIMEOUT, Health, http_kind
from app.client.sync import SyncClient

__all__ = ["Client"]


class Client(SyncClient):
    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        http: Any = None,
    ) -> None:
        super().__init__(url, timeout=timeout, headers=headers, retry=retry, http=http)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = weakref.WeakKeyDictionary()
        for name in self.endpoints:
            if not hasattr(self, f"async_{name}"):
                setattr(self, f"async_{name}", functools.partial(self.async_call, name))

    @classmethod
    def from_url(cls, server_url: str, *, kind: str | None = None, **kwargs: Any) -> Client:
        http_kind(kind)
        return cls(server_url, **kwargs)

    def _async_client(self) -> AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = AsyncClient(
                self.server_url, timeout=self.timeout, headers=self.headers, retry=self.retry, table=self.table
            )
        return client

    async def async_call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        return await self._async_client().call(name, *args, **kwargs)

    async def async_health(self) -> Health:
        return await self._async_client().health()

    async def aclose(self) -> None:
        """Close the async side of the running loop (``close()`` closes the sync side)."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
        self.close()
