"""The benchmark's models, where they are stored, and the request bodies with their answers.

Two models, both classifiers over 4 float features:

- ``iris_clf``: ``SVC(gamma="scale")`` on scikit-learn's iris data, as ``scripts/train-iris``
  stores it; a prediction costs tens of microseconds, so the HTTP path dominates.
- ``heavy_clf``: a seeded random forest on synthetic data whose single-row prediction costs
  about a millisecond, nearly all of it per-call overhead: batching pays off.

Both are loaded the way tiffin loads them, ``runners.sklearn.load_model("NAME:latest")`` from
``$TIFFIN_HOME``. Until ``runners.sklearn`` exists, iris is trained in-process and the heavy
model is read from a skops file the harness writes under ``$TIFFIN_HOME/bench-fallback/``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

IRIS = "iris_clf"
HEAVY = "heavy_clf"
SEED = 0
# 20 trees cost ~1.1 ms per single-row predict on the 2-core bench machine (300 trees: ~12 ms).
HEAVY_TREES = 20
HEAVY_SAMPLES = 2000

IRIS_ROW = [5.9, 3.0, 5.1, 1.8]
IRIS_ROW_ANSWER = b"[2]"
HEAVY_ROW = [0.4, -1.3, 0.9, 1.6]


class Classifier(Protocol):
    def predict(self, x: Any) -> Any: ...


def tiffin_home() -> Path:
    return Path(os.environ.get("TIFFIN_HOME", Path.home() / ".tiffin"))


def train_iris() -> Classifier:
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    data = load_iris()
    clf: Classifier = SVC(gamma="scale").fit(data.data, data.target)
    return clf


def train_heavy() -> Classifier:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(
        n_samples=HEAVY_SAMPLES,
        n_features=4,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        random_state=SEED,
    )
    clf: Classifier = RandomForestClassifier(n_estimators=HEAVY_TREES, random_state=SEED).fit(x, y)
    return clf


TRAINERS = {IRIS: train_iris, HEAVY: train_heavy}


def fallback_path(name: str) -> Path:
    return tiffin_home() / "bench-fallback" / f"{name}.skops"


def store_available() -> bool:
    """True when tiffin's model store (``runners.sklearn``) can be imported."""
    try:
        import runners.sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def save_model(name: str, clf: Classifier) -> str:
    """Save into tiffin's store, or into the bench fallback file; returns where it went."""
    if store_available():
        import runners.sklearn

        return str(runners.sklearn.save_model(name, clf).tag)
    import skops.io

    path = fallback_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(clf, path)
    return str(path)


def load_model(name: str) -> Classifier:
    """Load ``NAME:latest`` as tiffin would; fall back while tiffin's store does not exist."""
    if store_available():
        import runners.sklearn

        stored: Classifier = runners.sklearn.load_model(f"{name}:latest")
        return stored
    path = fallback_path(name)
    if name == IRIS and not path.exists():
        return train_iris()
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if foreign:
        raise ValueError(f"{path}: unexpected types {foreign}")
    loaded: Classifier = skops.io.load(path, trusted=untrusted)
    return loaded


def predict_seconds(clf: Classifier, rows: list[list[float]], repeat: int = 50) -> float:
    """Median wall time of one ``predict`` call on ``rows``."""
    x = np.asarray(rows, dtype=np.float64)
    clf.predict(x)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        clf.predict(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@dataclass(frozen=True)
class Payload:
    """One request body and the exact answer a correct server gives (compact JSON)."""

    rows: int
    body: bytes
    expected: bytes


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def request_rows(name: str, rows: int) -> list[list[float]]:
    if name == IRIS:
        if rows == 1:
            return [IRIS_ROW]
        from sklearn.datasets import load_iris

        data = load_iris().data  # 150 rows sorted by class: a middle slice covers all three
        start = max(0, (len(data) - rows) // 2)
        return [[float(v) for v in row] for row in data[start : start + rows]]
    rng = np.random.default_rng(SEED)
    extra = rng.normal(size=(rows - 1, 4)).round(3).tolist()
    return [HEAVY_ROW, *extra]


def payload(name: str, clf: Classifier, rows: int) -> Payload:
    data = request_rows(name, rows)
    answer = clf.predict(np.asarray(data, dtype=np.float64)).tolist()
    payload = Payload(rows=rows, body=compact_json(data), expected=compact_json(answer))
    if name == IRIS and rows == 1 and payload.expected != IRIS_ROW_ANSWER:
        raise ValueError(f"iris model answers {payload.expected!r} for {IRIS_ROW}, expected [2]")
    return payload
