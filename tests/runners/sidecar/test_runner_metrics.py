import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from runners.sidecar import exposition
from runners.sidecar.runner_metrics import RunnerMetrics

SPEC_NAMES = {
    "tiffin_runner_requests": "counter",
    "tiffin_runner_request_duration_seconds": "histogram",
    "tiffin_runner_batch_size": "histogram",
    "tiffin_runner_queue_wait_seconds": "histogram",
    "tiffin_runner_inference_duration_seconds": "histogram",
    "tiffin_runner_queue_depth": "gauge",
    "tiffin_runner_rejected": "counter",
    "tiffin_runner_restarts": "counter",  # beyond the spec: workers started in place of dead ones
}


def test_metrics_are_exactly_the_spec_ones_in_the_given_registry() -> None:
    registry = CollectorRegistry()
    RunnerMetrics(registry)
    assert {m.name: m.type for m in registry.collect()} == SPEC_NAMES


def test_the_batcher_view_records_into_labelled_series() -> None:
    registry = CollectorRegistry()
    view = RunnerMetrics(registry).for_method("iris", "predict")
    view.queued(3)
    view.rejected("queue_full")
    view.batch(5, [0.001, 0.002], 0.01)
    view.request(200, 0.02)
    view.request(200, 0.03)
    view.request(400, 0.001)
    labels = {"runner": "iris", "method": "predict"}
    sample = registry.get_sample_value
    assert sample("tiffin_runner_queue_depth", labels) == 3
    assert sample("tiffin_runner_rejected_total", {**labels, "reason": "queue_full"}) == 1
    assert sample("tiffin_runner_batch_size_sum", labels) == 5
    assert sample("tiffin_runner_batch_size_count", labels) == 1
    assert sample("tiffin_runner_queue_wait_seconds_count", labels) == 2
    assert sample("tiffin_runner_inference_duration_seconds_count", labels) == 1
    assert sample("tiffin_runner_requests_total", {**labels, "status": "200"}) == 2
    assert sample("tiffin_runner_request_duration_seconds_count", {**labels, "status": "400"}) == 1


def test_in_multiprocess_mode_the_exposition_sums_every_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "from prometheus_client import CollectorRegistry\n"
        "from runners.sidecar.runner_metrics import RunnerMetrics, cache_process_id\n"
        "cache_process_id()\n"
        "view = RunnerMetrics(CollectorRegistry()).for_method('iris', 'predict')\n"
        "view.request(200, 0.01)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two worker processes, each gone by now: their counts stay
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = exposition.page(CollectorRegistry()).decode()
    assert 'tiffin_runner_requests_total{method="predict",runner="iris",status="200"} 2.0' in text
