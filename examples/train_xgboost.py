#!/usr/bin/env python3
"""Train an XGBoost iris classifier and store it as ``iris_xgb`` (XGBoost's own UBJSON format).

    python examples/train_xgboost.py          # into $TIFFIN_HOME (default ~/.tiffin)
    tiffin serve config/xgboost.yaml          # then: curl -d '[[5.9,3.0,5.1,1.8]]' localhost:3000/classify
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import xgboost  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

import runners  # noqa: E402


def main() -> int:
    x, y = load_iris(return_X_y=True)
    clf = xgboost.XGBClassifier(n_estimators=30, max_depth=3, learning_rate=0.3).fit(x, y)
    stored = runners.xgboost.save_model(
        "iris_xgb",
        clf,
        signatures={"predict": {"batchable": True}, "predict_proba": {"batchable": True}},
        metadata={"dataset": "iris"},
    )
    print(stored.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
