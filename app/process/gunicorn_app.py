"""``tiffin api``: a gunicorn master with ``TiffinWorker`` (uvicorn) workers serving one service.

Metrics are exact across workers: prometheus-client's multiprocess directory is made fresh at
each start, before anything imports prometheus-client, and a dead worker's files are marked in
``child_exit``. The service is imported and checked in the master, before any worker forks, so
a broken import stops the start once instead of respawning workers forever.

A worker whose start fails (an ``on_startup`` hook raised) writes the reason, one line, to a
file the master made; gunicorn then halts ("worker failed to boot") and ``start_failure()``
gives the line to ``tiffin api``, which exits 2 with it.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import shutil
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from app.config.schema import TiffinConfig
from runners.resources import limit_threads

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def fresh_metrics_dir() -> str:
    """A new, empty directory for this server's metric files, exported before any import."""
    path = tempfile.mkdtemp(prefix="tiffin-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


class ApiServer(BaseApplication):
    def __init__(self, service: Any, config: TiffinConfig, metrics_dir: str) -> None:
        self.service = service
        self.config = config
        self.metrics_dir = metrics_dir
        fd, self.failure_path = tempfile.mkstemp(prefix="tiffin-start-failure-")
        os.close(fd)
        super().__init__()

    def start_failure(self) -> str | None:
        """The first line a worker reported when its start failed, if one did; removes the file."""
        try:
            with open(self.failure_path, encoding="utf-8") as file:
                line = file.readline().strip()
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.failure_path)
        return line or None

    def _report_start_failure(self, line: str) -> None:
        with open(self.failure_path, "a", encoding="utf-8") as file:  # one short write: whole lines
            file.write(line.replace("\n", " ") + "\n")

    def load_config(self) -> None:
        server = self.config.server
        graceful = math.ceil(server.graceful_timeout)
        options: dict[str, Any] = {
            "bind": [f"[{server.host}]:{server.port}" if ":" in server.host else f"{server.host}:{server.port}"],
            "workers": server.workers,
            "worker_class": "app.process.uvicorn_worker.TiffinWorker",
            # gunicorn's heartbeat: a worker silent this long is stuck and gets replaced
            "timeout": max(30, int(server.timeout) + 30),
            "graceful_timeout": graceful,
            "keepalive": math.ceil(server.keepalive_timeout),  # the worker takes the exact value
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": self.config.logging.level.lower(),
            "proc_name": f"tiffin-api:{self.service.name}",
            "on_starting": self._on_starting,
            "child_exit": self._child_exit,
            "on_exit": self._on_exit,
            "post_worker_init": self._post_worker_init,
        }
        for key, value in options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from app.server.application import build_app

        return build_app(self.service, self.config, on_start_failure=self._report_start_failure)

    def _on_starting(self, arbiter: Any) -> None:
        if self.config.server.max_concurrency:
            from app.process.shared_slots import install_shared

            install_shared()

    def _post_worker_init(self, worker: Any) -> None:
        threads = self.service.resources.threads
        if threads is not None:
            limit_threads(threads)
        # The imports and the app live as long as the worker: out of the collector's sight, a full
        # collection scans only what requests make (a ~10 ms pause over ~50k objects otherwise).
        gc.freeze()

    def _child_exit(self, arbiter: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        from app.process.shared_slots import shared

        multiprocess.mark_process_dead(worker.pid, path=self.metrics_dir)
        slots = shared()
        if slots is not None:
            slots.release_dead(worker.pid)

    def _on_exit(self, arbiter: Any) -> None:
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
