"""A service whose API takes a parameter tiffin does not supply: refused when it is loaded."""

from __future__ import annotations

import numpy as np

from app import Service
from app.io import NumpyNdarray

svc = Service("bad_signature")


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
def classify(x: np.ndarray, threshold: float) -> np.ndarray:
    return x > threshold
