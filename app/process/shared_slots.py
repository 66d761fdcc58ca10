"""Counting requests in flight across every worker process of one server.

``SharedSlots`` lives in shared memory made by the gunicorn master before it forks, so all
workers see one total. Each worker also keeps its own share in a slot keyed by its pid, so the
master can give back what a dead worker held (``release_dead``). ``LocalSlots`` serves a single
process (tests, ``to_asgi`` embedded in another server).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Protocol

_MAX_WORKERS = 256


class Slots(Protocol):
    def try_acquire(self, limit: int) -> bool: ...
    def release(self) -> None: ...


class LocalSlots:
    def __init__(self) -> None:
        self.in_flight = 0

    def try_acquire(self, limit: int) -> bool:
        if self.in_flight >= limit:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1


class SharedSlots:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._lock = ctx.Lock()
        self._total = ctx.RawValue("q", 0)
        self._pids = ctx.RawArray("q", _MAX_WORKERS)
        self._counts = ctx.RawArray("q", _MAX_WORKERS)
        self._mine: int | None = None
        self._mine_pid = 0

    def _slot(self) -> int:
        pid = os.getpid()
        if self._mine is not None and self._mine_pid == pid:
            return self._mine
        with self._lock:
            for i in range(_MAX_WORKERS):
                if self._pids[i] in (0, pid):
                    self._pids[i] = pid
                    self._mine, self._mine_pid = i, pid
                    return i
        raise RuntimeError("more worker processes than concurrency slots")

    @property
    def in_flight(self) -> int:
        total: int = self._total.value
        return total

    def try_acquire(self, limit: int) -> bool:
        slot = self._slot()
        with self._lock:
            if self._total.value >= limit:
                return False
            self._total.value += 1
            self._counts[slot] += 1
            return True

    def release(self) -> None:
        slot = self._slot()
        with self._lock:
            self._total.value -= 1
            self._counts[slot] -= 1

    def release_dead(self, pid: int) -> None:
        with self._lock:
            for i in range(_MAX_WORKERS):
                if self._pids[i] == pid:
                    self._total.value -= self._counts[i]
                    self._counts[i] = 0
                    self._pids[i] = 0


_shared: SharedSlots | None = None


def install_shared() -> SharedSlots:
    """Called by the gunicorn master before forking; workers inherit the memory."""
    global _shared
    _shared = SharedSlots()
    return _shared


def shared() -> SharedSlots | None:
    return _shared
