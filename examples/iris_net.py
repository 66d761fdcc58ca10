"""The PyTorch module ``examples/train_pytorch.py`` trains. It lives in its own file because the
runner builds it from your code, by import path, before loading the stored weights into it."""

from __future__ import annotations

import torch


class IrisNet(torch.nn.Module):
    def __init__(self, features: int = 4, hidden: int = 16, classes: int = 3) -> None:
        super().__init__()
        # Buffers are stored with the weights: the input scaling travels with the model.
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers((x - self.mean) / self.std)  # logits

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x).argmax(dim=1)
