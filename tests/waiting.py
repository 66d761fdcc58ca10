"""Waiting for another process, thread or task to reach a state: poll it with a deadline, never sleep blind.

``wait_until(probe, message=...)`` calls ``probe`` until it returns something truthy and returns
that. Exceptions of the types in ``ignore`` mean "not yet"; any other propagates at once, so a
probe can fail early (a process that died). After ``timeout`` seconds the wait fails with
``message`` and the last value or exception seen. The deadlines are generous on purpose: a busy
2-core machine is slow, and a wait that succeeds returns as soon as the state is reached.

``wait_until_async`` is the same inside an event loop; its probe may be a coroutine function.
Its default ``interval`` of 0 checks again after one turn of the loop, so a state that other
tasks reach is seen as soon as they reach it, with no timer of its own to race theirs; give an
interval when the state is reached by a thread or another process.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

__all__ = ["wait_until", "wait_until_async"]

T = TypeVar("T")
Message = str | Callable[[], str]
"""What was awaited; a callable is asked only on failure (e.g. to add a process's log)."""


def wait_until(
    probe: Callable[[], T],
    *,
    message: Message,
    timeout: float = 30.0,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except ignore as exc:
            last: object = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(message, timeout, last))
        time.sleep(interval)


async def wait_until_async(
    probe: Callable[[], T | Awaitable[T]],
    *,
    message: Message,
    timeout: float = 30.0,
    interval: float = 0.0,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            outcome = probe()
            value = cast(T, await outcome if inspect.isawaitable(outcome) else outcome)
        except ignore as exc:
            last: object = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(message, timeout, last))
        await asyncio.sleep(interval)


def _failure(message: Message, timeout: float, last: object) -> str:
    text = message() if callable(message) else message
    seen = "" if last is None or last is False else f"; last: {last!r}"
    return f"{text}: not within {timeout:g} s{seen}"
