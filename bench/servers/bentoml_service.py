"""The BentoML peer: BentoML 1.4's class-style service with an adaptive-batching API.

What a BentoML user writes for the same model: the model loaded once per worker, and
``@bentoml.api(batchable=True)`` so that concurrent requests are batched, up to the same 512 rows
as tiffin's config. ``max_latency_ms`` keeps BentoML's default: BentoML reads it as a bound past
which it refuses requests (503 "process is overloaded"), not as how long a batch may wait, and
10 ms made it refuse under load on the shared 2-core machine. Two workers, like every server of
the benchmark.
``POST /classify`` takes ``{"input": [[...], ...]}`` (BentoML's JSON body names the parameter)
and answers the predicted classes as a JSON list. Run by ``bentoml serve`` from the peer's own
virtualenv (``bench.peers``), so it imports nothing of tiffin: the stored model is read from
``$TIFFIN_HOME`` with skops, trusting only scikit-learn and numpy types.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

MODEL_NAME = os.environ.get("BENCH_MODEL", "iris_clf")


def load_stored(name: str) -> Any:
    import skops.io

    home = Path(os.environ.get("TIFFIN_HOME", Path.home() / ".tiffin")) / "models" / name
    version = (home / "latest").read_text().strip()
    folder = home / version
    artifact = folder / json.loads((folder / "model.json").read_text())["artifact"]
    untrusted = skops.io.get_untrusted_types(file=artifact)
    foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if foreign:
        raise ValueError(f"{artifact}: unexpected types {foreign}")
    return skops.io.load(artifact, trusted=untrusted)


@bentoml.service(workers=2, traffic={"timeout": 60})
class Classifier:
    def __init__(self) -> None:
        self.model = load_stored(MODEL_NAME)

    @bentoml.api(batchable=True, max_batch_size=512)
    def classify(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)
