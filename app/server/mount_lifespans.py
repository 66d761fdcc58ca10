"""Forward the server's lifespan to mounted ASGI apps (FastAPI startup hooks, Quart's serving hooks).

Starlette's ``Mount`` does not pass lifespan events on; we run each mounted app's lifespan
protocol ourselves. An app that does not speak it (raises, or returns at once) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.types import ASGIApp, Message

logger = logging.getLogger("tiffin.lifespan")


class _AppLifespan:
    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.supported = True

    async def _run(self) -> None:
        scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await self.app(scope, self.inbox.get, self.outbox.put)
        except BaseException as exc:  # an app without lifespan support raises on the scope type
            if not isinstance(exc, asyncio.CancelledError):
                logger.debug("mounted app %s has no lifespan: %r", self.name, exc)
            self.supported = False
        finally:
            await self.outbox.put({"type": "_finished"})

    async def _exchange(self, message: Message, done: str, failed: str) -> None:
        await self.inbox.put(message)
        reply = await self.outbox.get()
        if reply["type"] == failed:
            raise RuntimeError(f"mounted app {self.name} failed its {message['type']}: {reply.get('message', '')}")
        if reply["type"] == "_finished":
            self.supported = False

    async def startup(self) -> None:
        self.task = asyncio.create_task(self._run())
        await self._exchange({"type": "lifespan.startup"}, "lifespan.startup.complete", "lifespan.startup.failed")

    async def shutdown(self) -> None:
        if self.supported:
            await self._exchange(
                {"type": "lifespan.shutdown"}, "lifespan.shutdown.complete", "lifespan.shutdown.failed"
            )
        if self.task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.task, timeout=5)


@contextlib.asynccontextmanager
async def mounted_lifespans(apps: Sequence[tuple[str, ASGIApp]]) -> AsyncIterator[None]:
    started: list[_AppLifespan] = []
    try:
        for name, app in apps:
            lifespan = _AppLifespan(app, name)
            await lifespan.startup()
            started.append(lifespan)
        yield
    finally:
        for lifespan in reversed(started):
            await lifespan.shutdown()
