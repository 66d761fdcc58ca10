"""Modules the PyTorch tests save: importable by name, so that a runner process can build them."""

from __future__ import annotations

import torch


class MLP(torch.nn.Module):
    def __init__(self, inputs: int = 4, hidden: int = 16, outputs: int = 3) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(inputs, hidden)
        self.out = torch.nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x))


class Tied(torch.nn.Module):
    """An embedding and an output layer sharing one weight, as language models do."""

    def __init__(self, vocab: int = 10, width: int = 4) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, width)
        self.head = torch.nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(tokens))


def train_mlp(x: torch.Tensor, y: torch.Tensor, steps: int = 200, seed: int = 0) -> MLP:
    """A few hundred Adam steps on iris: well under a second."""
    torch.manual_seed(seed)
    model = MLP(x.shape[1], 16, int(y.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


class Unscriptable(torch.nn.Module):
    """Needs a constructor argument, and TorchScript cannot compile it (``*args``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 1)

    def forward(self, x: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
