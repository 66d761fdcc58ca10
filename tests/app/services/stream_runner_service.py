"""An API generator that streams a runner's generator method (process tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import runners
from app import Service
from app.io import JSON, Text
from tests.runners.sample_runnables import Talker

talker = runners.Runner(Talker, name="talker")
svc = Service("talk", runners=[talker])


@svc.api(input=JSON(), output=Text())
async def say(request: dict[str, Any]) -> AsyncIterator[str]:
    async for word in talker.words.async_stream(request):
        yield word


@svc.api(input=JSON(), output=JSON())
async def count(pause: float) -> AsyncIterator[int]:
    async for n in talker.forever.async_stream(pause):
        yield n


@svc.api(input=JSON(), output=JSON())
async def progress(_: Any) -> dict[str, int]:
    return await talker.progress.async_run(0)
