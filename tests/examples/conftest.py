"""A model store with every example's model: the iris models and one per framework example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import ROOT

TRAINING = [
    "scripts/train-iris",
    "examples/train_xgboost.py",
    "examples/train_lightgbm.py",
    "examples/train_onnx.py",
    "examples/train_pytorch.py",
    "examples/make_summarizer.py",
]


@pytest.fixture(scope="session")
def examples_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each example's own script, run as its docstring says, into one fresh TIFFIN_HOME."""
    home = tmp_path_factory.mktemp("examples_home")
    for script in TRAINING:
        subprocess.run(
            [sys.executable, str(ROOT / script)],
            env={**os.environ, "TIFFIN_HOME": str(home)},
            check=True,
            capture_output=True,
            timeout=600,
        )
    return home
