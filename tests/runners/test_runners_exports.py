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
        "method",
        "models",
        "sklearn",
    ]
    public = {name for name in vars(runners) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(runners, name)).__name__ == "module"}
    assert public - modules == set(runners.__all__) - {"models", "sklearn"}


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
        "import sys, runners, runners.sidecar.server, runners.client.runner_client, runners.store.cli\n"
        "assert not [m for m in sys.modules if m == 'app' or m.startswith('app.')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_importing_runners_does_not_import_heavy_frameworks() -> None:
    code = (
        "import sys, runners\n"
        "heavy = [m for m in ('sklearn', 'skops', 'pandas', 'uvicorn', 'starlette') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
