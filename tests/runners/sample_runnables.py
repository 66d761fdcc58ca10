"""Runnables the runners tests serve, in process and in sidecar processes (loaded by path)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
from prometheus_client import Counter

import runners


class Doubler(runners.Runnable):
    """Doubles rows; records every batch it ran, so tests can see how calls were merged."""

    def __init__(self, delay: float = 0.0, load_seconds: float = 0.0) -> None:
        time.sleep(load_seconds)  # a slow model load
        self.delay = delay
        self.batches: list[int] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    @runners.method(batchable=True, batch_dim=0)
    def double(self, x: Any) -> Any:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            self.batches.append(len(x))
            if self.delay:
                time.sleep(self.delay)
            if isinstance(x, list):
                return [2 * v for v in x]
            if (np.asarray(x) < 0).any():
                raise ValueError("negative input")
            return x * 2
        finally:
            with self._lock:
                self.active -= 1

    @runners.method(batchable=True, batch_dim=(1, 0))
    def column_sums(self, x: np.ndarray) -> np.ndarray:
        """Rows along axis 1 in, along axis 0 out: one sum per input column."""
        self.batches.append(x.shape[1])
        return x.sum(axis=0)

    @runners.method
    def echo(self, value: Any) -> Any:
        return value

    @runners.method
    def sleep(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @runners.method
    def hold(self, request: dict[str, Any]) -> float:
        """Touch ``request["started"]`` (a path), then sleep ``request["seconds"]``."""
        Path(request["started"]).touch()
        time.sleep(request["seconds"])
        return float(request["seconds"])

    @runners.method
    def crash(self, value: Any) -> Any:
        raise RuntimeError("the model broke")


def wait_for(path: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path} within {within} s")
        time.sleep(0.01)


class Talker(runners.Runnable):
    """Generator methods: streams of words, an endless count (``made`` tells how far it got)."""

    def __init__(self) -> None:
        self.made = 0
        self.closed = 0

    @runners.method
    def words(self, request: dict[str, Any]) -> Iterator[str]:
        """``request["words"]``, one by one; after the first, waits for the file ``request["gate"]`` if given."""
        for i, word in enumerate(request["words"]):
            yield word
            if i == 0 and request.get("gate"):
                wait_for(request["gate"])

    @runners.method
    async def async_words(self, request: dict[str, Any]) -> AsyncIterator[str]:
        for word in request["words"]:
            await asyncio.sleep(0)
            yield word

    @runners.method
    def forever(self, pause: float) -> Iterator[int]:
        try:
            while True:
                self.made += 1
                yield self.made
                time.sleep(pause)
        finally:
            self.closed += 1

    @runners.method
    def progress(self, _: Any) -> dict[str, int]:
        return {"made": self.made, "closed": self.closed}

    @runners.method
    def breaks(self, after: int) -> Iterator[int]:
        yield from range(after)
        raise ValueError("the model broke mid-stream")

    @runners.method
    def arrays(self, n: int) -> Iterator[np.ndarray]:
        for i in range(n):
            yield np.full((2, 2), i, dtype=np.float32)
# -- any value over the hop ------------------------------------------------------------------------

# A metric of the model's own, in prometheus-client's default registry: the sidecar serves it.
KIND_CALLS = Counter("sample_kind_calls", "Calls of Kinds methods, by method.", ["method"])


class Point(pydantic.BaseModel):
    x: float
    y: float
    tags: list[str] = []


class ModelBroke(Exception):
    """An exception class of the model's own: its name and message reach the caller."""


class Kinds(runners.Runnable):
    """Takes and returns every kind of value; reports the types it received."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    @runners.method
    def echo(self, *args: Any, **kwargs: Any) -> Any:
        """The arguments back: the only one alone, several as ``(args, kwargs)``."""
        KIND_CALLS.labels("echo").inc()
        if len(args) == 1 and not kwargs:
            return args[0]
        return args, kwargs

    @runners.method
    def types(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The type each argument arrived as, on the runner (``module.qualname``)."""
        KIND_CALLS.labels("types").inc()

        def name(value: Any) -> str:
            return f"{type(value).__module__}.{type(value).__qualname__}"

        return {"args": [name(a) for a in args], "kwargs": {k: name(v) for k, v in kwargs.items()}}

    @runners.method(batchable=True, batch_dim=0)
    def affine(self, x: np.ndarray, bias: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Two outputs per row: ``x * scale + bias`` and its row sums; records each batch's rows."""
        KIND_CALLS.labels("affine").inc()
        self.batches.append(len(x))
        time.sleep(0.002)
        out = x * scale + bias
        return out, out.sum(axis=1)

    @runners.method(batchable=True, batch_dim=0)
    def shout(self, texts: list[str], suffix: str = "!") -> list[str]:
        return [t.upper() + suffix for t in texts]

    @runners.method(batchable=True, batch_dim=0)
    def weigh(self, frame: Any, weights: Any, *, scale: float = 1.0) -> Any:
        """A DataFrame and a Series of rows in, one weighted sum per row out (a Series)."""
        self.batches.append(len(frame))
        return frame.sum(axis=1) * weights * scale

    @runners.method
    def invert(self, image: Any) -> Any:
        from PIL import ImageOps

        return ImageOps.invert(image)

    @runners.method
    def fail(self, kind: str, message: str) -> None:
        if kind == "value":
            raise ValueError(message)
        if kind == "key":
            raise KeyError(message)
        raise ModelBroke(message)

    @runners.method
    def unsendable(self) -> Any:
        return {"fine": 1, "bad": {1, 2}}

    @runners.method
    def batches_seen(self) -> list[int]:
        return self.batches
