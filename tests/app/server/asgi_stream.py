"""Drive an ASGI app in-process and watch its response messages as they are sent.

httpx's ``ASGITransport`` and starlette's ``TestClient`` hand the body over only once the app
returns, so chunk arrival is observed here, message by message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


class Exchange:
    def __init__(
        self,
        app: Any,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (("content-type", "text/plain"),),
        method: str = "POST",
    ) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._gone = asyncio.Event()
        self._body = body
        self._sent_body = False
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }
        self.task = asyncio.get_running_loop().create_task(app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if not self._sent_body:
            self._sent_body = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        await self.messages.put(message)

    async def next(self, timeout: float = 30.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def start(self) -> dict[str, Any]:
        message = await self.next()
        assert message["type"] == "http.response.start", message
        return message

    async def chunk(self) -> bytes:
        message = await self.next()
        assert message["type"] == "http.response.body", message
        return bytes(message.get("body", b""))

    async def rest(self) -> tuple[bytes, bool]:
        """The remaining body once the app returns, and whether the response was completed."""
        await asyncio.wait_for(self.task, 30.0)
        body, complete = b"", False
        while not self.messages.empty():
            message = self.messages.get_nowait()
            body += message.get("body", b"")
            complete = complete or not message.get("more_body", False)
        return body, complete

    def disconnect(self) -> None:
        self._gone.set()


def header(start: dict[str, Any], name: str) -> str | None:
    for key, value in start["headers"]:
        if key.decode().lower() == name:
            return str(value.decode())
    return None
