"""A custom runner: model code in a ``runners.Runnable``, served like a stored model.

A nearest-centroid iris classifier in plain numpy. Serve it alone with

    tiffin runner iris_centroids --runnable examples.custom_runnable:IrisCentroids --port 3002

or from YAML (``tiffin runner iris_centroids``)::

    runners:
      iris_centroids:
        runnable: examples.custom_runnable:IrisCentroids   # or examples/custom_runnable.py:IrisCentroids
        batching: {enabled: true, max_batch_size: 64, max_latency_ms: 5}

and call it from an API with ``iris_centroids_runner.predict.run(x)``; ``[[5.9, 3.0, 5.1, 1.8]]``
gives ``[2]``.

``PREDICTED`` is a metric of the model's own, made with prometheus-client as usual: the runner's
``/metrics`` serves it beside tiffin's (``iris_centroids_predicted_total{label="2"}``), and so
Prometheus scrapes it in the compose setup.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from prometheus_client import Counter

import runners

PREDICTED = Counter("iris_centroids_predicted", "Rows classified, by predicted class.", ["label"])


class IrisCentroids(runners.Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    def __init__(self, shrink: float = 0.0) -> None:
        from sklearn.datasets import load_iris  # the data ships with scikit-learn

        x, y = load_iris(return_X_y=True)
        centroids = np.stack([x[y == label].mean(axis=0) for label in np.unique(y)])
        # shrink > 0 pulls every centroid toward the overall mean: a knob to show init params.
        self.centroids = centroids + shrink * (x.mean(axis=0) - centroids)

    def _distances(self, x: Any) -> np.ndarray:
        rows = np.asarray(x, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.centroids.shape[1]:
            raise ValueError(f"expected rows of {self.centroids.shape[1]} features, got shape {rows.shape}")
        return np.sqrt(((rows[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2))

    @runners.method(batchable=True, batch_dim=0)
    def predict(self, x: np.ndarray) -> np.ndarray:
        """One class label per row."""
        labels = self._distances(x).argmin(axis=1)
        for label, count in zip(*np.unique(labels, return_counts=True), strict=True):
            PREDICTED.labels(str(label)).inc(int(count))
        return labels

    @runners.method(batchable=True, batch_dim=0)
    def distances(self, x: np.ndarray) -> np.ndarray:
        """Each row's distance to the three class centroids."""
        return self._distances(x)

    @runners.method
    def describe(self, _: Any = None) -> dict[str, Any]:
        """Not batchable: a plain call with any JSON argument (or none, in-process)."""
        return {"classes": len(self.centroids), "centroids": self.centroids.round(3).tolist()}


iris_centroids_runner = runners.Runner(IrisCentroids, name="iris_centroids", runnable_init_params={"shrink": 0.0})
