"""Runnables the runners tests serve, in process and in sidecar processes (loaded by path)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import runners


class Doubler(runners.Runnable):
    """Doubles rows; records every batch it ran, so tests can see how calls were merged."""

    def __init__(self, delay: float = 0.0, load_seconds: float = 0.0) -> None:
        time.sleep(load_seconds)  # a slow model load
        self.delay = delay
        self.batches: list[int] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    @runners.method(batchable=True, batch_dim=0)
    def double(self, x: Any) -> Any:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            self.batches.append(len(x))
            if self.delay:
                time.sleep(self.delay)
            if isinstance(x, list):
                return [2 * v for v in x]
            if (np.asarray(x) < 0).any():
                raise ValueError("negative input")
            return x * 2
        finally:
            with self._lock:
                self.active -= 1

    @runners.method(batchable=True, batch_dim=(1, 0))
    def column_sums(self, x: np.ndarray) -> np.ndarray:
        """Rows along axis 1 in, along axis 0 out: one sum per input column."""
        self.batches.append(x.shape[1])
        return x.sum(axis=0)

    @runners.method
    def echo(self, value: Any) -> Any:
        return value

    @runners.method
    def sleep(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @runners.method
    def hold(self, request: dict[str, Any]) -> float:
        """Touch ``request["started"]`` (a path), then sleep ``request["seconds"]``."""
        Path(request["started"]).touch()
        time.sleep(request["seconds"])
        return float(request["seconds"])

    @runners.method
    def crash(self, value: Any) -> Any:
        raise RuntimeError("the model broke")
