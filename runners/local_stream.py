"""The values of a generator method run in this process (``init_local()``), as an async iterator.

A sync generator's steps run in worker threads, one ``next()`` each; when the iterator is closed
early the generator is closed too, after the step in progress if there is one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Generator
from typing import Any

_END = object()


async def local_values(made: Any) -> AsyncGenerator[Any, None]:
    if isinstance(made, AsyncGenerator):
        try:
            async for item in made:
                yield item
        finally:
            await made.aclose()
        return
    if not isinstance(made, Generator):
        raise TypeError(f"a streaming method must return a generator, not {type(made).__name__}")
    lock = threading.Lock()

    def step() -> Any:
        with lock:
            return next(made, _END)

    def close() -> None:
        with lock:
            made.close()

    finished = False
    try:
        while True:
            item = await asyncio.to_thread(step)
            if item is _END:
                finished = True
                return
            yield item
    finally:
        if not finished:
            threading.Thread(target=close, name="tiffin-local-stream-close", daemon=True).start()
