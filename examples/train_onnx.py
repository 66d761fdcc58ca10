#!/usr/bin/env python3
"""Fit a logistic regression on iris, write it as an ONNX graph, and store it as ``iris_onnx``.

    python examples/train_onnx.py             # into $TIFFIN_HOME (default ~/.tiffin)
    tiffin serve config/onnx.yaml             # then: curl -d '[[5.9,3.0,5.1,1.8]]' localhost:3000/classify

The graph is built with ``onnx.helper`` from the fitted coefficients (label = argmax(x·W + b)),
so this needs no converter; ``skl2onnx.to_onnx(clf, ...)`` or ``torch.onnx.export`` make the
same kind of ``ModelProto``. Its batch dimension is dynamic, so ``run`` is stored as batchable.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from onnx import TensorProto, checker, helper, numpy_helper  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import runners  # noqa: E402


def graph(clf: LogisticRegression) -> object:
    weights = numpy_helper.from_array(clf.coef_.T.astype(np.float32), "W")
    bias = numpy_helper.from_array(clf.intercept_.astype(np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["scores"]),
        helper.make_node("Add", ["scores", "b"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    body = helper.make_graph(
        nodes,
        "iris_logistic_regression",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        initializer=[weights, bias],
    )
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", 17)], producer_name="tiffin example")
    checker.check_model(model)
    return model


def main() -> int:
    x, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    stored = runners.onnx.save_model("iris_onnx", graph(clf), metadata={"dataset": "iris"})
    print(stored.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
