"""The runner's Prometheus metrics, defined once, in a registry the caller passes in.

A sidecar uses a ``CollectorRegistry`` of its own, never the global one, which is the model
code's (``runners.sidecar.exposition`` serves both). A runner served by several worker processes
(``runners.<name>.workers``), or by a supervisor that respawns its worker, runs prometheus-client
in multiprocess mode: the supervisor gives the runner a fresh ``PROMETHEUS_MULTIPROC_DIR`` before
the workers start and marks a dead worker's files, and the page of any worker sums the files of
all of them, the dead included, so counts stay exact across workers and restarts. Label children
are bound once per method: the hot path does no label lookups.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class RunnerMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        namespace: str = "tiffin",
        duration_buckets: Sequence[float] = DURATION_BUCKETS,
    ) -> None:
        self.registry = registry
        ns: dict[str, Any] = {"namespace": namespace, "subsystem": "runner", "registry": registry}
        self.requests = Counter("requests", "Requests served by the runner.", ["runner", "method", "status"], **ns)
        self.request_duration = Histogram(
            "request_duration_seconds",
            "Time from receiving a request to answering it.",
            ["runner", "method", "status"],
            buckets=duration_buckets,
            **ns,
        )
        self.batch_size = Histogram(
            "batch_size", "Rows per batch run by the model.", ["runner", "method"], buckets=BATCH_SIZE_BUCKETS, **ns
        )
        self.queue_wait = Histogram(
            "queue_wait_seconds",
            "Time a request waited in the batching queue.",
            ["runner", "method"],
            buckets=duration_buckets,
            **ns,
        )
        self.inference_duration = Histogram(
            "inference_duration_seconds",
            "Time the model took to run one batch.",
            ["runner", "method"],
            buckets=duration_buckets,
            **ns,
        )
        self.queue_depth = Gauge(
            "queue_depth",
            "Requests waiting in the batching queue.",
            ["runner", "method"],
            multiprocess_mode="livesum",
            **ns,
        )
        self.rejected = Counter(
            "rejected", "Requests refused without running the model.", ["runner", "method", "reason"], **ns
        )
        self.restarts = Counter(
            "restarts", "Runner worker processes started in place of one that died.", ["runner"], **ns
        )

    def for_method(self, runner: str, method: str) -> MethodMetrics:
        return MethodMetrics(self, runner, method)


class MethodMetrics:
    """The batcher's view of the metrics for one runner method (see ``batching.BatchObserver``)."""

    def __init__(self, metrics: RunnerMetrics, runner: str, method: str) -> None:
        self._metrics = metrics
        self._runner = runner
        self._method = method
        self._batch_size = metrics.batch_size.labels(runner, method)
        self._queue_wait = metrics.queue_wait.labels(runner, method)
        self._inference = metrics.inference_duration.labels(runner, method)
        self._depth = metrics.queue_depth.labels(runner, method)
        self._by_status: dict[str, tuple[Counter, Histogram]] = {}

    def queued(self, depth: int) -> None:
        self._depth.set(depth)

    def rejected(self, reason: str) -> None:
        self._metrics.rejected.labels(self._runner, self._method, reason).inc()

    def batch(self, rows: int, waits: Sequence[float], duration: float) -> None:
        self._batch_size.observe(rows)
        self._inference.observe(duration)
        for wait in waits:
            self._queue_wait.observe(wait)

    def request(self, status: int, duration: float) -> None:
        code = str(status)
        pair = self._by_status.get(code)
        if pair is None:
            pair = self._by_status[code] = (
                self._metrics.requests.labels(self._runner, self._method, code),
                self._metrics.request_duration.labels(self._runner, self._method, code),
            )
        pair[0].inc()
        pair[1].observe(duration)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def cache_process_id() -> None:
    """In multiprocess mode, name this process's metric files by its pid read once, not per update.

    prometheus-client calls ``os.getpid`` on every update to notice a fork; a sidecar never forks
    after this, and a system call per metric update is dear on the hot path of a virtual machine.
    Call it before any metric exists.
    """
    if multiprocess_dir() is None:
        return
    from prometheus_client import values

    pid = os.getpid()
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: pid)
