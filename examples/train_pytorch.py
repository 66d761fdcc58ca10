#!/usr/bin/env python3
"""Train a small PyTorch network on iris and store it as ``iris_torch`` (weights in safetensors).

    python examples/train_pytorch.py          # into $TIFFIN_HOME (default ~/.tiffin)
    tiffin serve config/pytorch.yaml          # then: curl -d '[[5.9,3.0,5.1,1.8]]' localhost:3000/classify

The module is ``examples/iris_net.py:IrisNet``; the store records that path and ``init_kwargs``,
and the runner rebuilds ``IrisNet(**init_kwargs)`` before loading the weights. Two methods are
served: ``__call__`` (the logits) and ``classify`` (the class index), both batchable.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

import runners  # noqa: E402
from runners.imports import import_target  # noqa: E402

NET = Path(__file__).resolve().parent / "iris_net.py"
SIZES = {"features": 4, "hidden": 16, "classes": 3}


def main() -> int:
    IrisNet = import_target(f"{NET}:IrisNet")  # by its file, so the runner finds it wherever it starts
    torch.manual_seed(0)
    features, labels = load_iris(return_X_y=True)
    x, y = torch.tensor(features, dtype=torch.float32), torch.tensor(labels)
    net = IrisNet(**SIZES)
    net.mean.copy_(x.mean(dim=0))
    net.std.copy_(x.std(dim=0))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    stored = runners.pytorch.save_model(
        "iris_torch",
        net,
        init_kwargs=SIZES,
        signatures={"__call__": {"batchable": True}, "classify": {"batchable": True}},
        metadata={"dataset": "iris"},
    )
    print(stored.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
