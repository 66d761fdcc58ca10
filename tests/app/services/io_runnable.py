"""A runnable for the IO tests: it inverts images (as arrays), doubles tables and sums series."""

from __future__ import annotations

import numpy as np
import pandas as pd

import runners


class Pixels(runners.Runnable):
    @runners.method(batchable=False)
    def invert(self, image: np.ndarray) -> np.ndarray:
        assert image.dtype == np.uint8, image.dtype
        return 255 - image

    @runners.method(batchable=False)
    def double(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame * 2

    @runners.method(batchable=False)
    def cumsum(self, series: pd.Series) -> pd.Series:
        return series.cumsum()
