"""Real processes for integration tests: free ports, start in their own session, wait, kill the group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(count: int) -> int:
    """A port p such that p .. p+count-1 were all free (``tiffin serve`` puts runners at port+1...)."""
    for _ in range(200):
        base = free_port()
        if base + count > 65535:
            continue
        socks = []
        try:
            for offset in range(count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports")


class Proc:
    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="tiffin-test-", suffix=".log", delete=False)
        self.argv = list(argv)
        self.process = subprocess.Popen(
            self.argv,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def wait_http(
        self, url: str, *, status: int = 200, timeout: float = 30.0, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Poll ``url`` until it answers ``status``; fail with the process's log if it dies or times out."""
        seen: list[object] = []

        def probe() -> httpx.Response | None:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.argv} exited {self.process.returncode}:\n{self.output()}")
            try:
                response = httpx.get(url, timeout=2.0, headers=headers)
            except httpx.HTTPError as exc:
                seen.append(exc)
                return None
            seen.append(response.status_code)
            return response if response.status_code == status else None

        return wait_until(
            probe,
            timeout=timeout,
            message=lambda: f"{url} did not answer {status} (last: {seen[-1] if seen else None!r}):\n{self.output()}",
        )

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM the whole group, then SIGKILL what is left."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.log.close()
        os.unlink(self.log.name)


def tiffin(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]
