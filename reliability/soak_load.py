"""The soak's load: wrk segments of ``POST /classify`` that count what was sent and every answer.

``reliability/lua/soak.lua`` counts in ``request()``, which wrk calls just before it writes a
request, so ``sent`` is what reached the server's socket. wrk also calls ``request()`` once on its
first thread to check the script before any connection (``script_verify_request``): that call
sends nothing and is taken off. Requests still in flight when a segment's duration ends are sent
but never seen answered by wrk (it closes the connections): the server's own counter says
whether they were answered.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import wrk_path

LUA_SCRIPT = Path(__file__).parent / "lua" / "soak.lua"
RESULT_MARK = "SOAK_RESULT "
VERIFY_CALLS = 1  # wrk's script_verify_request: one request() on the first thread, never sent
ERROR_KINDS = ("connect", "read", "write", "timeout")
CLASSES = ("s2xx", "s3xx", "s4xx", "s5xx", "sother")


class SoakLoadError(Exception):
    """wrk could not run or printed no result."""


@dataclass
class Tally:
    """What a series of wrk runs sent and saw, summed."""

    runs: int = 0
    seconds: float = 0.0
    sent: int = 0
    answered: int = 0
    ok: int = 0  # 200 with the expected body
    mismatches: int = 0  # 200 with another body
    by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    statuses: set[str] = field(default_factory=set)  # every status other than 200
    latency_max_us: float = 0.0
    p99_max_us: float = 0.0  # the worst run's 99th percentile
    samples: list[str] = field(default_factory=list)

    @property
    def unanswered(self) -> int:
        return self.sent - self.answered

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.values())

    def add(self, raw: dict[str, Any]) -> None:
        self.runs += 1
        self.seconds += raw["duration_us"] / 1e6
        self.sent += int(raw["sent"]) - VERIFY_CALLS
        self.answered += int(raw["answered"])
        self.ok += int(raw["ok"])
        self.mismatches += int(raw["mismatches"])
        for name in CLASSES:
            self.by_class[name] += int(raw[name])
        for kind in ERROR_KINDS:
            self.errors[kind] += int(raw["errors"][kind])
        self.statuses |= {str(code) for code in raw["other_statuses"]}
        self.latency_max_us = max(self.latency_max_us, float(raw["latency_us"]["max"]))
        self.p99_max_us = max(self.p99_max_us, float(raw["latency_us"]["p99"]))
        self.samples += [s for s in raw["samples"] if len(self.samples) < 5]

    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Load:
    """How wrk drives the server: connections, threads, its timeout (a slower answer is a hang)."""

    url: str
    body: bytes
    expected: bytes
    workdir: Path
    connections: int = 16
    threads: int = 2
    timeout_s: int = 10

    def files(self) -> dict[str, str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        body, expected = self.workdir / "body.json", self.workdir / "expected.json"
        body.write_bytes(self.body)
        expected.write_bytes(self.expected)
        return {"SOAK_BODY_FILE": str(body), "SOAK_EXPECTED_FILE": str(expected)}

    def command(self, seconds: int) -> list[str]:
        return [
            wrk_path(),
            f"--threads={self.threads}",
            f"--connections={self.connections}",
            f"--duration={max(1, seconds)}s",
            f"--timeout={self.timeout_s}s",
            f"--script={LUA_SCRIPT}",
            self.url,
        ]

    def run(self, seconds: int) -> dict[str, Any]:
        """One wrk run of ``seconds``: the JSON its ``done()`` printed."""
        env = {**os.environ, **self.files()}
        try:
            done = subprocess.run(
                self.command(seconds), env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SoakLoadError(f"wrk did not finish within {seconds + 60} s") from exc
        if done.returncode != 0:
            raise SoakLoadError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
        return parse_output(done.stdout)


def parse_output(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return dict(json.loads(line[len(RESULT_MARK) :]))
    raise SoakLoadError(f"wrk printed no {RESULT_MARK.strip()} line:\n{stdout[-2000:]}")
