"""Start a server in its own session, time it to ready, watch its memory, stop it with no leftovers."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from bench import procs

MB = 1024 * 1024


class ServerFailed(Exception):
    """The server did not start, did not become ready, or answered wrongly."""


def free_port(host: str = "127.0.0.1", span: int = 2) -> int:
    """A port that is free together with the ``span - 1`` ports after it.

    ``tiffin serve`` puts its runner sidecar on the next port up, so the pair must be free."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
            first.bind((host, 0))
            port = int(first.getsockname()[1])
            if port + span - 1 > 65535:
                continue
            others = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(span - 1)]
            try:
                for offset, sock in enumerate(others, start=1):
                    sock.bind((host, port + offset))
                return port
            except OSError:
                continue
            finally:
                for sock in others:
                    sock.close()
    raise OSError(f"no {span} consecutive free ports on {host}")


def http_request(
    host: str, port: int, method: str, path: str, body: bytes | None = None, *, timeout: float = 5.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class MemoryStats:
    """Peaks seen by the sampler, in bytes."""

    tree_peak: int = 0
    worker_peak: int = 0  # the largest single API worker at any sample
    workers_seen: set[int] = field(default_factory=set)
    per_process_peak: dict[int, int] = field(default_factory=dict)
    samples: int = 0


class Server:
    """One server process tree: ``start()``, ``wait_ready()``, ``stop()``; also a context manager."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        host: str,
        port: int,
        sample_interval: float = 0.2,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self.host = host
        self.port = port
        self.sample_interval = sample_interval
        self.memory = MemoryStats()
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_s: float | None = None
        self.seen: dict[int, int] = {}  # pid -> start ticks, every process of the tree ever seen
        self.cmdlines: dict[int, str] = {}
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServerFailed(f"cannot run {self.argv[0]}: {exc.strerror}") from exc
        finally:
            log.close()
        self._sampler = threading.Thread(target=self._sample_loop, name=f"rss-{self.name}", daemon=True)
        self._sampler.start()

    def wait_ready(self, timeout: float, poll: float = 0.02) -> float:
        """Poll ``GET /readyz`` until 200; returns seconds from start to ready."""
        assert self.proc is not None
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerFailed(f"exited with code {code} before ready: {self.log_tail()}")
            try:
                status, _ = http_request(self.host, self.port, "GET", "/readyz", timeout=1.0)
            except (OSError, http.client.HTTPException):
                status = 0
            if status == 200:
                self.ready_s = time.monotonic() - self.started_at
                return self.ready_s
            time.sleep(poll)
        raise ServerFailed(f"/readyz not 200 within {timeout:g} s: {self.log_tail()}")

    def check_answer(self, body: bytes, expected: bytes) -> None:
        """One request before the load: a wrong answer fails here with a readable message."""
        try:
            status, answer = http_request(self.host, self.port, "POST", "/classify", body)
        except (OSError, http.client.HTTPException) as exc:
            raise ServerFailed(f"POST /classify failed: {exc!r}") from exc
        if status != 200 or b"".join(answer.split()) != expected:
            raise ServerFailed(
                f"POST /classify {body[:60]!r} answered {status} {answer[:200]!r}, expected 200 {expected[:200]!r}"
            )

    def log_tail(self, lines: int = 15) -> str:
        """The log's last line, then its last ``lines`` lines indented."""
        try:
            text = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            text = []
        if not text:
            return f"no output (log {self.log_path})"
        tail = "\n    ".join(text[-lines:])
        return f"{text[-1].strip()}\n  last lines of {self.log_path}:\n    {tail}"

    # memory sampling

    def _sample_loop(self) -> None:
        while not self._stop_sampling.is_set():
            self.sample()
            self._stop_sampling.wait(self.sample_interval)

    def sample(self) -> None:
        if self.proc is None:
            return
        tree = procs.process_tree(self.proc.pid, procs.all_procs())
        workers = procs.api_workers(tree, self.port) if self.ready_s is not None else []
        with self._lock:
            memory = self.memory
            memory.samples += 1
            memory.tree_peak = max(memory.tree_peak, sum(p.rss_bytes for p in tree))
            for info in tree:
                if info.pid not in self.seen:
                    self.seen[info.pid] = info.start_ticks
                    self.cmdlines[info.pid] = procs.cmdline(info.pid)
                peak = memory.per_process_peak.get(info.pid, 0)
                memory.per_process_peak[info.pid] = max(peak, info.rss_bytes)
            for info in workers:
                memory.workers_seen.add(info.pid)
                memory.worker_peak = max(memory.worker_peak, info.rss_bytes)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the living processes of the tree."""
        if self.proc is None:
            return 0.0
        tree = procs.process_tree(self.proc.pid, procs.all_procs())
        return sum(info.cpu_ticks for info in tree) / procs.CLOCK_TICKS

    # stopping

    def survivors(self) -> list[int]:
        """Processes of the tree ever seen (or still in its group) that are still alive."""
        alive = []
        with self._lock:
            seen = dict(self.seen)
        for pid, ticks in seen.items():
            info = procs.read_proc(pid)
            if info is not None and info.start_ticks == ticks and info.state != "Z":
                alive.append(pid)
        if self.proc is not None:
            for info in procs.all_procs():
                if info.pgid == self.proc.pid and info.state != "Z" and info.pid not in alive:
                    alive.append(info.pid)
        return alive

    def stop(self, grace: float = 10.0) -> list[str]:
        """SIGTERM the process group, wait for every process, SIGKILL what is left.

        Returns notes about processes that had to be killed."""
        notes: list[str] = []
        if self.proc is None:
            return notes
        self.sample()
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join()
        pgid = self.proc.pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.proc.poll()
            if self.proc.returncode is not None and not self.survivors():
                break
            time.sleep(0.05)
        left = self.survivors()
        if left:
            notes.append(f"{self.name}: {len(left)} process(es) still alive {grace:g} s after SIGTERM, killed: {left}")
            _signal_group(pgid, signal.SIGKILL)
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            notes.append(f"{self.name}: root process {pgid} did not exit")
        self.proc = None
        return notes


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
