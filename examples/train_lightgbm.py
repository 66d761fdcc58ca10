#!/usr/bin/env python3
"""Train a LightGBM iris classifier and store it as ``iris_lgbm`` (LightGBM's own text format).

    python examples/train_lightgbm.py         # into $TIFFIN_HOME (default ~/.tiffin)
    tiffin serve config/lightgbm.yaml         # then: curl -d '[[5.9,3.0,5.1,1.8]]' localhost:3000/classify
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lightgbm  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

import runners  # noqa: E402


def main() -> int:
    x, y = load_iris(return_X_y=True)
    clf = lightgbm.LGBMClassifier(n_estimators=30, min_child_samples=5, verbose=-1).fit(x, y)
    stored = runners.lightgbm.save_model(
        "iris_lgbm",
        clf,
        signatures={"predict": {"batchable": True}, "predict_proba": {"batchable": True}},
        metadata={"dataset": "iris"},
    )
    print(stored.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
