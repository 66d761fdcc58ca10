import ast
import subprocess
import sys
from pathlib import Path

import pytest

import runners

PACKAGE = Path(runners.__file__).resolve().parent


def test_the_public_names_are_exactly_these() -> None:
    assert runners.__all__ == [
        "DeadlineExceeded",
        "InvalidInput",
        "Runnable",
        "Runner",
        "RunnerError",
        "RunnerOverloaded",
        "RunnerUnavailable",
        "Tag",
        "lightgbm",
        "method",
        "models",
        "onnx",
        "pytorch",
        "sklearn",
        "transformers",
        "xgboost",
    ]
    for name in runners.__all__:  # the names load on first use
        getattr(runners, name)
    public = {name for name in vars(runners) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(runners, name)).__name__ == "module"}
    assert public - modules == set(runners.__all__) - FRAMEWORK_MODULES - {"models"}


FRAMEWORK_MODULES = {"lightgbm", "onnx", "pytorch", "sklearn", "transformers", "xgboost"}
HEAVY = ("sklearn", "skops", "pandas", "uvicorn", "starlette", "xgboost", "lightgbm", "onnx", "onnxruntime", "torch",
         "transformers", "tokenizers", "safetensors")  # fmt: skip


def imported_modules(source: Path) -> set[str]:
    """Every module ``source`` imports, at any depth of its code (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_of(folder: Path, forbidden: str) -> dict[str, list[str]]:
    hits = {}
    for source in sorted(folder.rglob("*.py")):
        bad = sorted(m for m in imported_modules(source) if m == forbidden or m.startswith(forbidden + "."))
        if bad:
            hits[str(source.relative_to(PACKAGE.parent))] = bad
    return hits


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("", "app"),  # the runners package, every module of it
        ("client", "runners.sidecar"),
        ("sidecar", "runners.client"),
        ("wire", "runners.client"),
        ("wire", "runners.sidecar"),
        ("store", "runners.client"),
        ("store", "runners.sidecar"),
    ],
)
def test_each_side_of_the_hop_stands_alone(folder: str, forbidden: str) -> None:
    assert imports_of(PACKAGE / folder, forbidden) == {}


def test_runners_never_imports_app() -> None:
    code = (
        "import sys, runners, runners.sidecar.server, runners.client.runner_client, runners.store.cli\n"
        "assert not [m for m in sys.modules if m == 'app' or m.startswith('app.')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_importing_runners_does_not_import_heavy_frameworks() -> None:
    code = (
        "import sys, runners\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_scikit_learn_runner_imports_no_other_framework(iris_models: dict[str, str]) -> None:
    """The sidecar's whole path for a stored scikit-learn model: resolve, load, predict."""
    code = (
        "import sys\n"
        "from runners.spec import RunnerSpec, resolve\n"
        "resolved = resolve(RunnerSpec('iris', model='iris_clf'))\n"
        "model = resolved.runnable_class(**resolved.init_params)\n"
        "assert model.predict([[5.9, 3.0, 5.1, 1.8]]).tolist() == [2]\n"
        f"heavy = [m for m in {HEAVY[5:]!r} if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_reading_a_runner_spec_imports_neither_numpy_nor_the_client() -> None:
    code = (
        "import sys, runners, runners.spec\n"
        "heavy = [m for m in ('numpy', 'runners.client', 'runners.runner', 'asyncio') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
