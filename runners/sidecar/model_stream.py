"""``ModelStream``: a generator method of the loaded model, its values as an async iterator.

The steps of a sync generator run on the model thread, one ``next()`` per value, between the
batches of the other methods; an async generator runs on the event loop. Closing the iterator
closes the model's generator at its ``yield``, after the step in progress if there is one.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from runners.errors import RunnerError
from runners.sidecar.batching import ModelWorker
from runners.wire.arguments import Arguments

__all__ = ["ModelStream"]

_END = object()


class ModelStream:
    """One generator method of the loaded model."""

    def __init__(self, fn: Callable[[Any], Any], *, worker: ModelWorker, name: str) -> None:
        self._fn = fn
        self._worker = worker
        self.name = name

    async def values(self, call: Arguments) -> AsyncGenerator[Any, None]:
        made = self._fn(*call.args, **call.kwargs)  # a generator function: nothing of it runs yet
        if isinstance(made, AsyncGenerator):
            try:
                async for item in made:
                    yield item
            finally:
                await made.aclose()
            return
        if not isinstance(made, Generator):
            raise RunnerError(f"Method {self.name} was expected to be a generator.", detail=type(made).__name__)
        finished = False
        try:
            while True:
                item = await self._worker.run(next, made, _END)
                if item is _END:
                    finished = True
                    return
                yield item
        finally:
            if not finished:  # after the step that may still run on the model thread
                self._worker.later(made.close)
