"""A well-behaved client that keeps asking while hostile ones attack: its latency and failures."""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

IRIS = b"[[5.9,3.0,5.1,1.8]]"
EXPECTED = [2]


@dataclass
class Window:
    """What the probe saw between ``Probe.window()``'s start and end."""

    latencies: list[float] = field(default_factory=list)  # seconds, of the answers that were right
    failures: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies) + len(self.failures)

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("inf")
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[round(q * 1000) - 1]

    @property
    def p50(self) -> float:
        return self.quantile(0.5)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    def summary(self) -> str:
        text = f"{self.count} probes, {len(self.failures)} failed, p50 {ms(self.p50)} p99 {ms(self.p99)}"
        if self.failures:
            text += f" (first failure: {self.failures[0]})"
        return text


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class Probe:
    """``POST /classify`` of one iris row, a new connection each time (so accepting is probed too),
    paced ``pause`` seconds apart, in a thread of its own from ``start()`` to ``stop()``."""

    def __init__(self, host: str, port: int, *, pause: float = 0.01, timeout: float = 5.0) -> None:
        self.host, self.port, self.pause, self.timeout = host, port, pause, timeout
        self._window: Window | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hostile-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    @contextlib.contextmanager
    def window(self) -> Iterator[Window]:
        """Collect what the probe sees while the block runs; wait for a first answer in it."""
        window = Window()
        with self._lock:
            self._window = window
        try:
            yield window
            deadline = time.monotonic() + self.timeout + 1
            while window.count == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            with self._lock:
                self._window = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            failure = self._ask()
            took = time.monotonic() - started
            with self._lock:
                if self._window is not None:
                    if failure is None:
                        self._window.latencies.append(took)
                    else:
                        self._window.failures.append(failure)
            self._stop.wait(self.pause)

    def _ask(self) -> str | None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", "/classify", body=IRIS, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        if response.status != 200:
            return f"status {response.status}: {body[:120]!r}"
        try:
            if json.loads(body) != EXPECTED:
                return f"answer {body[:120]!r}"
        except ValueError:
            return f"answer {body[:120]!r}"
        return None
