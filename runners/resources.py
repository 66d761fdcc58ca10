"""What one process of a service or a runner may use: ``resources={"cpu": 2}``, as in BentoML.

``cpu`` is the CPU share of one process (a number, a numeric string, or Kubernetes' millicores,
``"500m"``). It sets how many threads the native thread pools of that process (OpenMP, BLAS and
the libraries that read their variables) may run: ``threads``, at least one. Keys tiffin cannot
honour are refused, never accepted and ignored: memory is the container's limit to set
(compose ``mem_limit``, Kubernetes ``resources.limits``), not the server's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Resources", "limit_threads", "thread_variables", "worker_share"]

# Read by OpenMP, OpenBLAS, MKL, BLIS, Apple's Accelerate and numexpr when they start their pools.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass(frozen=True)
class Resources:
    cpu: float | None = None

    @classmethod
    def parse(cls, value: Mapping[str, Any] | None) -> Resources:
        """From BentoML's ``resources=`` mapping; a ``ValueError`` names what cannot be honoured."""
        options = dict(value or {})
        unknown = sorted(set(options) - {"cpu"})
        if unknown:
            raise ValueError(
                f"resources: {', '.join(map(repr, unknown))} cannot be honoured; only 'cpu' is "
                "(limit memory and devices on the container)"
            )
        cpu = options.get("cpu")
        return cls(cpu=None if cpu is None else _cpu(cpu))

    @property
    def threads(self) -> int | None:
        return None if self.cpu is None else max(1, math.ceil(self.cpu))


def worker_share(workers: int, cpus: float | None = None) -> Resources:
    """What each of ``workers`` processes of one runner may use, so that together they fit ``cpus``.

    ``cpus`` defaults to the CPUs this process may run on. The share is whole CPUs, rounded down
    and at least one (``threads`` × ``workers`` then never exceeds the CPUs unless there are more
    workers than CPUs, where each still gets one thread).
    """
    total = cpus if cpus is not None else _available_cpus()
    return Resources(cpu=float(max(1, math.floor(total / max(1, workers)))))


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_variables(threads: int) -> dict[str, str]:
    """The environment that caps a new process's native thread pools at ``threads``."""
    return dict.fromkeys(THREAD_VARIABLES, str(threads))


def _cpu(value: Any) -> float:
    text = str(value).strip()
    try:
        cpu = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise ValueError(f"resources: cpu should be a number of CPUs or millicores ('500m'), not {value!r}") from None
    if not math.isfinite(cpu) or cpu <= 0:
        raise ValueError(f"resources: cpu should be more than 0, not {value!r}")
    return cpu


def limit_threads(threads: int) -> None:
    """Cap this process's native thread pools: those already loaded now, those loaded later by the variables."""
    os.environ.update(thread_variables(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
