"""Drive a server with wrk and read back what ``bench/lua/post_json.lua`` reports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import Point
from bench.models import Payload

LUA_SCRIPT = Path(__file__).parent / "lua" / "post_json.lua"
RESULT_MARK = "BENCH_RESULT "


class LoadError(Exception):
    """wrk could not run, or the server answered with errors during the load."""


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    raw: dict[str, Any]  # everything the Lua script reported

    def to_dict(self, connections: int) -> dict[str, Any]:
        return {
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            # wrk's percentiles are corrected for coordinated omission; with every connection
            # always waiting on one answer, Little's law gives the uncorrected mean latency
            "raw_mean_ms": connections / self.rps * 1000 if self.rps else None,
            "requests": self.requests,
            "wrk": self.raw,
        }


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk is not installed: apt-get install -y wrk (scripts/bench does it when root)")
    return path


def wrk_version() -> str:
    out = subprocess.run([wrk_path(), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk \S*?(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


def wrk_command(url: str, connections: int, threads: int, seconds: float, timeout_s: float) -> list[str]:
    return [
        wrk_path(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        f"--script={LUA_SCRIPT}",
        url,
    ]


def parse_output(stdout: str) -> dict[str, Any]:
    """The JSON object on the ``BENCH_RESULT`` line of wrk's output."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return dict(json.loads(line[len(RESULT_MARK) :]))
    raise LoadError(f"wrk printed no {RESULT_MARK.strip()} line:\n{stdout[-2000:]}")


def problems(raw: dict[str, Any]) -> list[str]:
    """Everything that makes a measurement invalid, as readable phrases (empty when clean)."""
    found = []
    errors = raw.get("errors", {})
    for kind in ("connect", "read", "write", "timeout"):
        if errors.get(kind):
            found.append(f"{errors[kind]} socket {kind} errors")
    if raw.get("non_200"):
        found.append(f"{raw['non_200']} non-200 answers")
    elif errors.get("status"):
        found.append(f"{errors['status']} non-2xx answers")
    if raw.get("mismatches"):
        found.append(f"{raw['mismatches']} wrong answers")
    if raw.get("requests", 0) == 0:
        found.append("no request completed")
    elif raw.get("responses", 0) < raw["requests"]:
        found.append(f"only {raw['responses']} of {raw['requests']} answers were checked")
    if found and raw.get("samples"):
        found.append("first bad answers: " + " | ".join(raw["samples"]))
    return found


def to_result(raw: dict[str, Any]) -> LoadResult:
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return LoadResult(
        rps=raw["requests"] / seconds if seconds > 0 else 0.0,
        p50_ms=latency["p50"] / 1000,
        p99_ms=latency["p99"] / 1000,
        requests=int(raw["requests"]),
        raw=raw,
    )


def run_wrk(
    url: str, payload: Payload, point: Point, seconds: float, *, workdir: Path, timeout_s: float = 5.0
) -> LoadResult:
    """One wrk run at ``point``'s connections; raises LoadError unless every answer was right."""
    workdir.mkdir(parents=True, exist_ok=True)
    body_file = workdir / "body.json"
    expected_file = workdir / "expected.json"
    body_file.write_bytes(payload.body)
    expected_file.write_bytes(payload.expected)
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_EXPECTED_FILE": str(expected_file)}
    command = wrk_command(url, point.connections, point.threads, seconds, timeout_s)
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish within {seconds + 60:g} s") from exc
    if done.returncode != 0:
        raise LoadError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    raw = parse_output(done.stdout)
    found = problems(raw)
    if found:
        raise LoadError("; ".join(found))
    return to_result(raw)
