"""The machine the benchmark shares: what it is, and how much of its CPU others are using.

wrk and the servers share a 2-core machine; any other busy process skews the figures. Each
measured point records the share of all CPUs that processes other than the harness, wrk and
the server used meanwhile; ``wait_idle`` can hold a start until the machine calms down.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench import procs
from bench.server import Server

BUSY_WARNING = 0.10  # share of all CPUs used by other processes that makes a point suspect
T = TypeVar("T")


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def own_cpu_seconds() -> float:
    """CPU time of this harness and of its reaped children (wrk runs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def with_foreign_cpu(server: Server, action: Callable[[], T]) -> tuple[T, float]:
    """Run ``action``; also return the share of all CPUs that other processes used meanwhile."""
    wall, busy, ours = time.monotonic(), procs.busy_seconds(), server.cpu_seconds() + own_cpu_seconds()
    result = action()
    wall = time.monotonic() - wall
    busy = procs.busy_seconds() - busy
    ours = server.cpu_seconds() + own_cpu_seconds() - ours
    return result, max(0.0, busy - ours) / (wall * (os.cpu_count() or 1))


def wait_idle(max_wait: float, window: float = 1.0) -> float | None:
    """Wait until the machine (nothing of ours runs now) is nearly idle for one window.

    Returns None once idle (or when not asked to wait), else the busy share when time ran out."""
    if max_wait <= 0:
        return None
    deadline = time.monotonic() + max_wait
    share = 1.0
    while time.monotonic() < deadline:
        start = procs.busy_seconds() - own_cpu_seconds()
        time.sleep(window)
        share = (procs.busy_seconds() - own_cpu_seconds() - start) / (window * (os.cpu_count() or 1))
        if share < BUSY_WARNING:
            return None
    return share
