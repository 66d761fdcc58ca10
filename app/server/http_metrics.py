"""The API server's HTTP metrics and their exposition.

Metrics are built on an injectable registry. Under gunicorn, prometheus-client runs in
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set before any worker imports it) and
``/metrics`` of any worker sums the files of all of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.process import pid

DEFAULT_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "DEFAULT_BUCKETS",
    "HttpMetrics",
    "cache_process_id",
    "exposition",
    "multiprocess_dir",
]

def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def cache_process_id() -> None:
    """In multiprocess mode, let prometheus-client identify the process by ``app.process.pid.current``.

    It checks the pid on every update of every value, to notice a fork; ``os.getpid`` is a
    system call, five per request here, and system calls are dear in a virtual machine. The
    remembered id is renewed in each forked child, so the check still sees forks. Call it before
    any metric exists (values created earlier keep asking ``os.getpid``).
    """
    if not multiprocess_dir():
        return
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue(process_identifier=pid.current)


class HttpMetrics:
    """``<namespace>_http_*`` for one service; children cached so the hot path skips ``labels()``."""

    def __init__(
        self,
        service: str,
        *,
        registry: CollectorRegistry,
        namespace: str = "tiffin",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self.service = service
        self.registry = registry
        labels = ("service", "endpoint", "method", "status")
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered.", labels, namespace=namespace, registry=registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            labels,
            namespace=namespace,
            buckets=tuple(buckets),
            registry=registry,
        )
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "HTTP requests being served.",
            ("service", "endpoint", "method"),
            namespace=namespace,
            registry=registry,
            multiprocess_mode="livesum",
        )
        stream_labels = ("service", "endpoint", "method")
        self.first_chunk = Histogram(
            "http_time_to_first_chunk_seconds",
            "Time from a streamed response's request to its first chunk.",
            stream_labels,
            namespace=namespace,
            buckets=tuple(buckets),
            registry=registry,
        )
        self.stream_duration = Histogram(
            "http_stream_duration_seconds",
            "Time from a streamed response's request to its last chunk.",
            stream_labels,
            namespace=namespace,
            buckets=tuple(buckets),
            registry=registry,
        )
        self._done: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._live: dict[tuple[str, str], Gauge] = {}

    def started(self, endpoint: str, method: str) -> Gauge:
        gauge = self._live.get((endpoint, method))
        if gauge is None:
            gauge = self._live[(endpoint, method)] = self.in_progress.labels(self.service, endpoint, method)
        gauge.inc()
        return gauge

    def finished(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        pair = self._done.get((endpoint, method, status))
        if pair is None:
            labels = (self.service, endpoint, method, str(status))
            pair = self._done[(endpoint, method, status)] = (
                self.requests.labels(*labels),
                self.duration.labels(*labels),
            )
        pair[0].inc()
        pair[1].observe(seconds)

    def streamed(self, endpoint: str, method: str, first_chunk: float, seconds: float) -> None:
        """A response sent in several chunks: its time to the first one, and to the end."""
        labels = (self.service, endpoint, method)
        self.first_chunk.labels(*labels).observe(first_chunk)
        self.stream_duration.labels(*labels).observe(seconds)


def exposition(registry: CollectorRegistry) -> bytes:
    """Prometheus text: the sum over all worker processes in multiprocess mode, else ``registry``."""
    path = multiprocess_dir()
    if path:
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=path)
        return generate_latest(merged)
    return generate_latest(registry)
