"""Session fixtures shared by the process tests: a model store with the iris models in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def iris_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TIFFIN_HOME where ``scripts/train-iris`` saved iris_clf and iris_clf_with_feature_names."""
    home = tmp_path_factory.mktemp("iris_home")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train-iris")],
        env={**os.environ, "TIFFIN_HOME": str(home)},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home
