"""Fixtures for the runners tests: a temporary TIFFIN_HOME with the iris models for the whole
session, and real sidecar processes on free ports (waited for by polling ``/readyz``, killed as
a process group at teardown)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runners.imports import import_target
from runners.spec import RunnerSpec
from tests.procs import tiffin
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent / "sample_runnables.py"
READY_WITHIN = 90.0  # seconds; importing scikit-learn on a busy 2-core machine is slow


@pytest.fixture(scope="session", autouse=True)
def tiffin_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every runners test sees a fresh store, never the real ~/.tiffin."""
    home = tmp_path_factory.mktemp("tiffin_home")
    previous = os.environ.get("TIFFIN_HOME")
    os.environ["TIFFIN_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("TIFFIN_HOME", None)
    else:
        os.environ["TIFFIN_HOME"] = previous


@pytest.fixture(scope="session")
def iris_models(tiffin_home: Path) -> dict[str, str]:
    """``scripts/train-iris`` run as users run it, into the session's store; name -> tag."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train-iris")],
        env={**os.environ, "TIFFIN_HOME": str(tiffin_home)},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    tags = result.stdout.split()
    return {tag.partition(":")[0]: tag for tag in tags}


@pytest.fixture(scope="session")
def samples() -> Any:
    """The test runnables module, loaded by path (independent of pytest's import mode)."""
    return sys.modules[import_target(f"{SAMPLES}:Doubler").__module__]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sidecar:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout)


def wait_ready(sidecar: Sidecar, within: float = READY_WITHIN) -> None:
    def ready() -> bool:
        if sidecar.proc.poll() is not None:
            raise AssertionError(f"sidecar exited with {sidecar.proc.returncode}:\n{sidecar.output()}")
        return httpx.get(f"{sidecar.url}/readyz", timeout=1.0).status_code == 200

    wait_until(
        ready, timeout=within, ignore=(httpx.HTTPError,), message=lambda: f"sidecar not ready:\n{sidecar.output()}"
    )


@pytest.fixture(scope="session")
def start_sidecar(tmp_path_factory: pytest.TempPathFactory, tiffin_home: Path) -> Iterator[Callable[..., Sidecar]]:
    """``start_sidecar("NAME", "--model", tag, port=None, ready=True, env=None)``: a ``tiffin runner`` process."""
    started: list[Sidecar] = []
    logs = tmp_path_factory.mktemp("sidecar_logs")

    def start(*args: str, port: int | None = None, ready: bool = True, env: dict[str, str] | None = None) -> Sidecar:
        port = port or free_port()
        log = logs / f"sidecar-{len(started)}-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*tiffin("runner", *args), "--host", "127.0.0.1", "--port", str(port)],
                cwd=REPO,
                env={**os.environ, "TIFFIN_HOME": str(tiffin_home), "PYTHONUNBUFFERED": "1", **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        sidecar = Sidecar(proc, port, log)
        started.append(sidecar)
        if ready:
            wait_ready(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        sidecar.stop(signal.SIGKILL, timeout=10)


@pytest.fixture(scope="session")
def iris_sidecar(start_sidecar: Callable[..., Sidecar], iris_models: dict[str, str]) -> Sidecar:
    """One iris_clf sidecar shared by the tests that only read from it."""
    return start_sidecar("iris_clf", "--model", "iris_clf:latest")


@pytest.fixture(scope="session")
def doubler_sidecar(start_sidecar: Callable[..., Sidecar]) -> Sidecar:
    spec = RunnerSpec.for_runnable(
        "doubler", f"{SAMPLES}:Doubler", init_params={"delay": 0.002}, batching={"max_batch_size": 32, "max_latency_ms": 5}
    )
    return start_sidecar("doubler", "--spec", spec.to_json())


@pytest.fixture
def scrape() -> Callable[[str], dict[str, float]]:
    """``scrape(url)``: the sidecar's /metrics as {"name{labels}": value}."""

    def read(url: str) -> dict[str, float]:
        text = httpx.get(f"{url}/metrics", timeout=5.0).text
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values

    return read
