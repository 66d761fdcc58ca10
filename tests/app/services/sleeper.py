"""A runnable for the limit tests: it waits as long as it is told, or fails on purpose."""

from __future__ import annotations

import time

import numpy as np

import runners


class Sleeper(runners.Runnable):
    @runners.method(batchable=False)
    def wait(self, x: np.ndarray) -> np.ndarray:
        time.sleep(float(np.asarray(x).ravel()[0]))
        return x

    @runners.method(batchable=False)
    def fail(self, x: np.ndarray) -> np.ndarray:
        raise RuntimeError("the model's own secret failure")
