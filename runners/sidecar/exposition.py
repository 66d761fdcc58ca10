"""What the sidecar's ``/metrics`` serves: tiffin's runner metrics and the model code's own.

A ``Runnable`` may create prometheus-client metrics the usual way, in the default registry
(``prometheus_client.Counter("tokens", "...")``, at module level or in ``__init__``); they are
served beside ``tiffin_runner_*``, with the default registry's process and Python collectors.

With ``PROMETHEUS_MULTIPROC_DIR`` set in the sidecar's environment (several worker processes for
one runner), every metric of every process, tiffin's and the model's alike, lives in that
directory, so the page is built from it by ``MultiProcessCollector`` and counts are exact across
the processes. prometheus-client reads the variable when it is first imported: it must be set
before the process starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["MULTIPROC_DIR", "page"]

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class _Both:
    """Two registries read as one (``generate_latest`` needs only ``collect``)."""

    def __init__(self, *registries: CollectorRegistry) -> None:
        self._registries = registries

    def collect(self) -> Iterable[Metric]:
        for registry in self._registries:
            yield from registry.collect()


def page(registry: CollectorRegistry) -> bytes:
    """Prometheus text for ``registry`` (tiffin's) and the default one, or the multiprocess directory."""
    directory = os.environ.get(MULTIPROC_DIR)
    if directory:
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=directory)
        return generate_latest(merged)
    if registry is REGISTRY:
        return generate_latest(registry)
    return generate_latest(_Both(registry, REGISTRY))  # duck-typed: generate_latest needs only collect()
