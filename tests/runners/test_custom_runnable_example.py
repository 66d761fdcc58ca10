"""``examples/custom_runnable.py``: in process, and served by a sidecar in both import forms."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from runners.imports import import_target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_runnable.py"
PROBE = [[5.9, 3.0, 5.1, 1.8]]


def test_in_process() -> None:
    runner = import_target(f"{EXAMPLE}:iris_centroids_runner")
    assert runner.name == "iris_centroids" and runner.predict.config.batchable
    runner.init_local()
    assert runner.predict.run(np.array(PROBE)).tolist() == [2]
    assert runner.distances.run(np.array(PROBE)).shape == (1, 3)
    assert runner.describe.run()["classes"] == 3


def test_served_by_a_sidecar_by_module_path_and_by_file_path(start_sidecar: Callable[..., Any]) -> None:
    for target in ("examples.custom_runnable:IrisCentroids", f"{EXAMPLE}:IrisCentroids"):
        sidecar = start_sidecar("iris_centroids", "--runnable", target, "--init-params", '{"shrink": 0.1}')
        with httpx.Client(base_url=sidecar.url, timeout=10) as client:
            assert client.post("/predict", json=PROBE * 3).json() == [2, 2, 2]
            info = client.get("/info").json()
            assert info["runnable"] == target and info["framework"] == "custom"
            assert info["methods"]["describe"] == {"batchable": False, "batch_dim": 0}
            described = client.post("/describe", content=b"null", headers={"content-type": "application/json"})
            assert described.json()["classes"] == 3
            metrics = client.get("/metrics").text  # the example's own counter, beside tiffin's
            assert 'iris_centroids_predicted_total{label="2"} 3.0' in metrics
        assert sidecar.stop() == 0
