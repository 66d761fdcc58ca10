"""The queue both sides batch from: calls waiting to share one model call (sidecar) or one request (client).

Each waiting call has its rows, its layout key (``runners.wire.rows.key``; ``None`` when it
cannot share), its deadline and the future its caller awaits. ``take`` gives the oldest live call
and the calls after it with the same key, up to ``max_rows`` rows, in arrival order; what it
passes over stays queued, in order, in front of the rest. Calls whose callers stopped waiting are
dropped; calls whose deadline passed are handed to ``expired`` and dropped, never computed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["RowQueue", "Waiting"]


class Waiting(Protocol):
    rows: int
    key: Hashable | None
    deadline: float | None
    future: asyncio.Future[Any]


W = TypeVar("W", bound=Waiting)


class RowQueue(Generic[W]):
    def __init__(self, max_rows: int, *, scan_limit: int | None = None) -> None:
        self.max_rows = max_rows
        self.rows = 0  # rows waiting, over every queued call
        self._scan = scan_limit if scan_limit is not None else 1 << 62
        self._calls: deque[W] = deque()

    def __len__(self) -> int:
        return len(self._calls)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def oldest(self) -> W:
        return self._calls[0]

    def append(self, call: W) -> None:
        self._calls.append(call)
        self.rows += call.rows

    def drain(self) -> Iterator[W]:
        """Every queued call, oldest first, each removed as it is given."""
        while self._calls:
            call = self._calls.popleft()
            self.rows -= call.rows
            yield call

    def take(self, now: float, expired: Callable[[W], None]) -> list[W]:
        """The next group to run together (empty if no live call waits), looking at most at ``scan_limit`` calls."""
        group: list[W] = []
        passed: list[W] = []
        taken = 0
        scanned = 0
        while self._calls and taken < self.max_rows and scanned < self._scan:
            call = self._calls.popleft()
            self.rows -= call.rows
            scanned += 1
            if call.future.done():  # the caller stopped waiting
                continue
            if call.deadline is not None and call.deadline <= now:
                expired(call)
                continue
            if not group:
                group.append(call)
                taken = call.rows
                if call.key is None:
                    break
            elif call.key == group[0].key and taken + call.rows <= self.max_rows:
                group.append(call)
                taken += call.rows
            else:
                passed.append(call)
        self._calls.extendleft(reversed(passed))
        self.rows += sum(call.rows for call in passed)
        return group
