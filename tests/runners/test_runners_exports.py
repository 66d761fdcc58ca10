import ast
import subprocess
import sys
from pathlib import Path

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
    public = {name for name in vars(runners) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(runners, name)).__name__ == "module"}
    assert public - modules == set(runners.__all__) - FRAMEWORK_MODULES - {"models"}


FRAMEWORK_MODULES = {"lightgbm", "onnx", "pytorch", "sklearn", "transformers", "xgboost"}
HEAVY = ("sklearn", "skops", "pandas", "uvicorn", "starlette", "xgboost", "lightgbm", "onnx", "onnxruntime", "torch",
         "transformers", "tokenizers", "safetensors")  # fmt: skip


def test_runners_never_imports_app() -> None:
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "app" or n.startswith("app.") for n in names), f"{source.name} imports {names}"
    code = (
        "import sys, runners, runners.sidecar.server, runners.client.runner_client, runners.store.cli, runners.__main__\n"
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
