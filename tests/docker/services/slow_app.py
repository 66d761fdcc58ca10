"""A mounted ASGI app whose answer takes ``?seconds=`` (default 3): requests that are surely in
flight when the API container is stopped. Plain ASGI, so it needs nothing the image lacks."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    query = parse_qs(scope.get("query_string", b"").decode())
    seconds = float(query.get("seconds", ["3"])[0])
    await asyncio.sleep(seconds)
    body = f"slept {seconds}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
