"""The worker processes of one runner on one machine: ``runners.<name>.workers: N``.

Each worker is a whole sidecar (``tiffin runner NAME --worker``) with its own model copy. What
the workers of one runner share, their supervisor holds and hands down:

- one TCP listening socket, bound once by the supervisor and inherited by every worker
  (``--fd``): the runner keeps one port for Prometheus, probes and API servers elsewhere, a
  respawned worker needs no bind, and connections wait in the backlog instead of being refused
  while a worker restarts;
- a Unix socket per worker (``NAME.sock`` for one worker, ``NAME-0.sock``, ``NAME-1.sock``, ...
  for more): API servers on this machine get all of them as the runner's URLs, and their
  balancer sends each call to the worker with the fewest calls in flight and steps around a
  dead one; the supervisor asks each worker's ``/readyz`` there;
- a fresh ``PROMETHEUS_MULTIPROC_DIR``, so ``/metrics`` of any worker counts all of them, the
  dead included (their live gauges are marked dead when they exit);
- a thread share: with N workers each caps its native thread pools at ``CPUs // N`` threads
  (``runners.resources.worker_share``), so N × threads fits the CPUs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from urllib.parse import quote

from app.process.child import Child
from runners.resources import thread_variables, worker_share

RESTARTED_ENV = "TIFFIN_RUNNER_RESTARTED"
_MAX_UNIX_PATH = 100  # bytes; the kernel's limit for a socket path is 107


def socket_paths(base: str | None, workers: int) -> list[str | None]:
    """Each worker's Unix socket for ``base`` (``.../iris_clf.sock``); ``None`` where the path would be too long."""
    if base is None:
        return [None] * workers
    if workers == 1:
        paths = [base]
    else:
        stem, dot, suffix = base.rpartition(".")
        paths = [f"{stem}-{k}.{suffix}" if dot and "/" not in suffix else f"{base}-{k}" for k in range(workers)]
    return [p if len(os.fsencode(p)) <= _MAX_UNIX_PATH else None for p in paths]


def unix_url(path: str) -> str:
    return f"http+unix://{quote(path, safe='')}"


@dataclass(eq=False)
class RunnerPool:
    """The plan for one runner's workers; ``open()`` binds the port and makes the children."""

    name: str
    command: list[str]  # ``tiffin runner NAME ...`` up to the address options
    env: dict[str, str]
    host: str
    port: int
    workers: int = 1
    uds: str | None = None  # the Unix socket of a lone worker, or the pattern for several
    cpus: float | None = None
    children: list[Child] = field(default_factory=list)
    listener: socket.socket | None = None
    metrics_dir: str | None = None

    @property
    def sockets(self) -> list[str | None]:
        return socket_paths(self.uds, self.workers)

    @property
    def url(self) -> str:
        """Where API servers on this machine reach the runner: every worker's socket, else the port."""
        paths = self.sockets
        if all(paths):
            return ",".join(unix_url(p) for p in paths if p)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def worker_argv(self, index: int) -> list[str]:
        argv = [*self.command, "--host", self.host, "--port", str(self.port)]
        path = self.sockets[index]
        if path is not None:
            argv += ["--uds", path]
        return argv + ["--worker"]

    def worker_env(self) -> dict[str, str]:
        env = dict(self.env)
        if self.workers > 1:
            threads = worker_share(self.workers, self.cpus).threads
            env.update(thread_variables(threads or 1))
        return env

    def open(self) -> list[Child]:
        """Bind the shared port, make the metrics directory, and plan a child per worker."""
        self.listener = bind_tcp(self.host, self.port)
        self.metrics_dir = tempfile.mkdtemp(prefix=f"tiffin-metrics-{self.name}-")
        env = {**self.worker_env(), "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        fd = self.listener.fileno()
        self.children = []
        for index in range(self.workers):
            role = f"runner {self.name}" if self.workers == 1 else f"runner {self.name} worker {index}"
            argv = [*self.worker_argv(index), "--fd", str(fd)]
            self.children.append(Child(role, argv, env, pass_fds=(fd,), probe=self.sockets[index], capture=True))
        return self.children

    def worker_exited(self, child: Child) -> None:
        """A worker died: its live gauges stop counting (its counters stay, so totals stay exact)."""
        if self.metrics_dir is not None and child.pid is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(child.pid, path=self.metrics_dir)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.metrics_dir = None
        for path in self.sockets:
            if path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, inheritable by the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def runner_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", "runner", *args]
