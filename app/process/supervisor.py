"""``tiffin serve``: the runner sidecars and the API server as child processes of one command.

Every runner without a URL gets a sidecar on 127.0.0.1 (port + 1, + 2, ...) and on a Unix socket
in a private directory made for this run; the API server starts beside them with the sockets'
URLs (``http+unix://``: the hop costs both sides some 20% less CPU than loopback TCP) and
reports ready once they are. The TCP ports stay open for Prometheus and for people. On SIGTERM or Ctrl-C the
API server drains first, the runners stop last; if any child dies on its own, the rest are
stopped and ``serve`` exits non-zero.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from urllib.parse import quote

from app.config.schema import TiffinConfig, check_imports, runner_url_env

logger = logging.getLogger("tiffin.serve")

_PR_SET_PDEATHSIG = 1
_MAX_UNIX_PATH = 100  # bytes; the kernel's limit for a socket path is 107


def _die_with_parent() -> None:
    """In the child: get SIGTERM if ``serve`` itself is killed, so nothing is left behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    role: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.process is not None:
            return
        logger.info("starting %s: %s", self.role, " ".join(self.argv))
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace: float) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.exited()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0fs; killing it", self.role, grace)
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


def sidecars(config: TiffinConfig, service_runners: list[str]) -> dict[str, int]:
    """Runners this command must start, each with its port."""
    wanted = [name for name, rc in config.runners.items() if not rc.url]
    wanted += [n for n in service_runners if n not in config.runners and not os.environ.get(runner_url_env(n))]
    return {name: config.server.port + 1 + i for i, name in enumerate(wanted)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


def _runner_command(config: TiffinConfig, name: str, common: list[str]) -> list[str]:
    """``tiffin runner NAME``; for a YAML runner of a stored model, ``python -m runners serve``.

    The latter serves the same spec without importing tiffin's configuration layer (pydantic and
    the rest of ``app``): some 0.15 s less before the model starts loading, on the start's
    critical path.
    """
    runner = config.runners.get(name)
    if runner is None or runner.model is None:
        return _cli("runner", name, *common)
    batching = runner.batching
    argv = [sys.executable, "-m", "runners", "serve", "--model", runner.model, "--name", name]
    argv += ["--max-batch-size", str(batching.max_batch_size), "--max-latency-ms", str(batching.max_latency_ms)]
    argv += ["--max-queue", str(batching.max_queue), "--graceful-timeout", str(config.server.graceful_timeout)]
    argv += ["--log-level", config.logging.level.lower()]
    if runner.threads is not None:
        argv += ["--threads", str(runner.threads)]
    if runner.device is not None:
        argv += ["--device", runner.device]
    return [*argv, "--no-batching"] if not batching.enabled else argv


def socket_path(socket_dir: str | None, name: str) -> str | None:
    """Where runner ``name``'s Unix socket goes; ``None`` without a directory or when the path is too long."""
    if socket_dir is None:
        return None
    path = os.path.join(socket_dir, f"{name}.sock")
    return path if len(os.fsencode(path)) <= _MAX_UNIX_PATH else None


def plan(config: TiffinConfig, service_runners: list[str], socket_dir: str | None = None) -> list[Child]:
    common: list[str] = []
    if config.path is not None:
        common += ["--config", str(config.path)]
    if config.service:
        common.insert(0, config.service)
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    children = []
    for name, port in sidecars(config, service_runners).items():
        argv = [*_runner_command(config, name, common), "--host", "127.0.0.1", "--port", str(port)]
        url = f"http://127.0.0.1:{port}"
        path = socket_path(socket_dir, name)
        if path is not None:
            argv += ["--uds", path]
            url = f"http+unix://{quote(path, safe='')}"
        children.append(Child(f"runner {name}", argv, env))
        env = {**env, runner_url_env(name): url}
    server = config.server
    api_argv = _cli(
        "api", *common, "--host", server.host, "--port", str(server.port), "--workers", str(server.workers)
    )
    children.append(Child("api", api_argv, env))
    return children


def serve(config: TiffinConfig) -> int:
    check_imports(config)  # a bad import path stops the start here, before any child runs
    socket_dir = tempfile.mkdtemp(prefix="tiffin-serve-")
    try:
        # The sidecars of the YAML's runners start at once: loading a model is the slowest part
        # of the start, and it needs nothing from the service being assembled meanwhile.
        early = {child.role: child for child in plan(config, [], socket_dir)[:-1]}
        for child in early.values():
            child.start()
        try:
            from app.config.assemble import build_service  # imported only now: 0.15 s the runners need not wait for

            service = build_service(config)  # fails here, once, on a bad config or import
        except BaseException:
            for child in early.values():
                child.stop(grace=10)
            raise
        children = [early.get(c.role, c) for c in plan(config, [r.name for r in service.runners], socket_dir)]
        return _supervise(config, children)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


def _supervise(config: TiffinConfig, children: list[Child]) -> int:
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)

    for child in children:
        child.start()
    failed: Child | None = None
    while not stop.is_set() and failed is None:
        failed = next((c for c in children if c.exited() is not None), None)
        stop.wait(0.2)

    api, runner_children = children[-1], children[:-1]
    api.stop(grace=float(config.server.graceful_timeout) + 5)
    for child in runner_children:
        child.stop(grace=10)
    if failed is not None:
        logger.error("%s exited with code %s; stopped the rest", failed.role, failed.exited())
        return 1
    return 0
