"""What a stored model runs on: its CPU share (for intra-op thread pools) and its device.

``cpu_share()`` is the number of CPUs this process may run on: its affinity mask, capped by the
container's CPU quota (cgroup v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us``), at least 1. A
framework's thread pool sized to it neither oversubscribes a container limited to 2 CPUs on a
64-core host nor idles the cores it was given.

Devices are ``cpu``, ``cuda`` (the current CUDA device) or ``cuda:N``.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

DEVICE = re.compile(r"^(cpu|cuda(:[0-9]+)?)$")

_CGROUP = Path("/sys/fs/cgroup")


class DeviceUnavailable(RuntimeError):
    """The configured device does not exist here (no CUDA device, or a build without CUDA)."""


def check_device(device: str) -> str:
    if not DEVICE.match(device):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")
    return device


def check_threads(threads: int | None) -> int | None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, not {threads!r}")
    return threads


def cpu_share() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, quota) if quota is not None else cpus)


def threads_for(threads: int | None) -> int:
    """The intra-op thread count: the one configured, else the CPU share."""
    return check_threads(threads) or cpu_share()


def _cgroup_quota() -> int | None:
    """CPUs allowed by the cgroup's quota (rounded up), or ``None`` when unlimited or unknown."""
    try:
        quota, _, period = (_CGROUP / "cpu.max").read_text().partition(" ")
        if quota.strip() != "max":
            return math.ceil(int(quota) / int(period))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((_CGROUP / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((_CGROUP / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return math.ceil(quota_us / period_us) if quota_us > 0 and period_us > 0 else None
