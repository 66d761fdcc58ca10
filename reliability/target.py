"""A ``tiffin serve`` under test: its own model store, a YAML written for the check, 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.server import Server, free_port

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass
class Run:
    """One reliability run: its mode, its scratch directory and its model store."""

    work: Path
    short: bool = False
    python: str = sys.executable
    _trained: bool = field(default=False, repr=False)

    @property
    def home(self) -> Path:
        return self.work / "home"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        bin_dir = str(Path(self.python).parent)
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        return {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": pythonpath,
            "TIFFIN_HOME": str(self.home),
            **(extra or {}),
        }

    def ensure_iris(self) -> None:
        """``iris_clf`` and ``iris_clf_with_feature_names`` in this run's store (scripts/train-iris)."""
        if self._trained:
            return
        done = subprocess.run(
            [self.python, str(REPO / "scripts" / "train-iris")],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/train-iris failed ({done.returncode}): {done.stderr[-2000:]}")
        self._trained = True


@dataclass
class Target:
    """A started, ready ``tiffin serve``: its URL, its process tree, its log."""

    server: Server
    config: Path

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def tree(self) -> list[procs.ProcInfo]:
        return procs.process_tree(self.pid, procs.all_procs())

    def api_workers(self) -> list[procs.ProcInfo]:
        return procs.api_workers(self.tree(), self.port)

    def runner_workers(self) -> list[procs.ProcInfo]:
        """The sidecar processes that hold a model (``tiffin runner NAME --spec ...``)."""
        found = []
        for info in self.tree():
            words = procs.cmdline(info.pid).split()
            if "runner" in words and "--spec" in words:
                found.append(info)
        return found

    def alive(self) -> bool:
        return self.server.proc is not None and self.server.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        return self.server.log_tail(lines)


def default_config(**server: Any) -> dict[str, Any]:
    """The default service (config/service.yaml) with ``server`` keys overridden."""
    config = yaml.safe_load((REPO / "config" / "service.yaml").read_text())
    config["server"] = {**config.get("server", {}), **server}
    return config


@contextlib.contextmanager
def serve(
    run: Run,
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    service: str | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 90.0,
) -> Iterator[Target]:
    """``tiffin serve`` of ``config`` (a YAML mapping; the default service when None) or of ``service``.

    ``service`` is an import target such as ``examples/fastapi_service.py:svc``; ``config`` then
    only sets server keys beside it. The server listens on a free port of 127.0.0.1 and is stopped,
    with every process it started, on the way out."""
    run.ensure_iris()
    port = free_port(HOST, span=4)  # the API port, then the runners' ports
    path = run.work / f"{name}.yaml"
    document = dict(config if config is not None else default_config())
    document["server"] = {**document.get("server", {}), "host": HOST, "port": port}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    argv = [str(Path(run.python).parent / "tiffin"), "serve"]
    argv += [service, "--config", str(path)] if service else ["--config", str(path)]
    server = Server(name, argv, env=run.env(env), cwd=REPO, log_path=run.work / f"{name}.log", host=HOST, port=port)
    server.start()
    try:
        server.wait_ready(ready_timeout)
        yield Target(server, path)
    finally:
        server.stop()
