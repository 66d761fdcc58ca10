"""A class-style service for process tests: a slow API and a crashy one."""

from __future__ import annotations

import asyncio
import os

from app import api, service


@service(traffic={"timeout": 5})
class Slow:
    @api
    async def sleep(self, seconds: float = 0.0) -> dict:
        await asyncio.sleep(seconds)
        return {"slept": seconds, "pid": os.getpid()}

    @api
    def pid(self) -> int:
        return os.getpid()
