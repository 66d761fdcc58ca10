"""The runner hop alone: ``RunnerClient.call`` through each transport against one real sidecar.

    .venv/bin/python -m bench.client_bench                 # every transport, c=1 and c=64
    .venv/bin/python -m bench.client_bench --requests 5000 --concurrency 1,16,64 --transports pooled,httpx

Starts ``tiffin runner echo --runnable bench/client_bench.py:Echo`` (a batchable method
that returns its input, so the runner costs little and the client's share shows), listening on
TCP (uvicorn) and on a Unix socket (``runners.sidecar.unix_server``; the ``pooled-unix`` transport), then
for each transport and concurrency sends ``--requests`` calls of one 1×4 float64 row (or,
``--payloads``, msgpack calls) from one client process (uvloop) and prints requests/s, the client
process's CPU per request (``time.process_time``, the figure that matters on a shared 2-core
machine) and the runner's CPU per request (from /proc). Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

import runners

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent


class Echo(runners.Runnable):
    THREAD_AFFINE = False  # like scikit-learn: tiny batches run on the event loop
    @runners.method(batchable=True, batch_dim=0)
    def echo(self, x: Any, *rest: Any, **options: Any) -> Any:
        return x


def payload(kind: str) -> Any:
    """The call each request makes: one 1×4 row (``.npy``), or msgpack calls of other shapes."""
    from runners.wire.arguments import Arguments

    row = np.array([[5.9, 3.0, 5.1, 1.8]])
    if kind == "row":
        return Arguments.of(row)
    if kind == "call":  # two arrays and a keyword: the msgpack path
        return Arguments.of(row, row, scale=0.5)
    if kind == "frame":
        import pandas as pd

        return Arguments.of(pd.DataFrame(row, columns=["a", "b", "c", "d"]))
    if kind == "text":
        return Arguments.of("The quick brown fox jumps over the lazy dog.")
    raise ValueError(kind)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _transport(name: str) -> Any:
    if name == "httpx":
        from runners.client.httpx_transport import HttpxTransport

        return HttpxTransport()
    if name == "aiohttp":
        return _AiohttpTransport()
    from runners.client.pool import PooledTransport

    return PooledTransport()


class _AiohttpTransport:
    """aiohttp behind the seam, for comparison only (``pip install aiohttp``)."""

    def __init__(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._session: Any = None

    async def request(
        self, method: str, url: str, *, headers: Any, content: Any, timeout: float, connect_timeout: float
    ) -> Any:
        from runners.client.transport import RawResponse

        if self._session is None:
            self._session = self._aiohttp.ClientSession(connector=self._aiohttp.TCPConnector(limit=64))
        async with self._session.request(
            method, url, headers=headers, data=content, timeout=self._aiohttp.ClientTimeout(total=timeout)
        ) as response:
            body = await response.read()
            return RawResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _drive(call: Callable[[], Awaitable[Any]], requests: int, concurrency: int) -> None:
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure(
    url: str, transport: str, requests: int, concurrency: int, runner_pid: int, kind: str = "row"
) -> dict[str, float]:
    from runners.client.runner_client import RunnerClient

    call = payload(kind)

    async def main() -> dict[str, float]:
        client = RunnerClient("echo", url, transport=_transport(transport))
        try:
            await _drive(lambda: client.call("echo", call), min(requests, 500), concurrency)  # warm-up
            cpu, runner_cpu, wall = time.process_time(), _cpu_seconds(runner_pid), time.perf_counter()
            await _drive(lambda: client.call("echo", call), requests, concurrency)
            wall = time.perf_counter() - wall
            cpu, runner_cpu = time.process_time() - cpu, _cpu_seconds(runner_pid) - runner_cpu
        finally:
            await client.aclose()
        return {"rps": requests / wall, "client_us": 1e6 * cpu / requests, "runner_us": 1e6 * runner_cpu / requests}

    import uvloop

    return uvloop.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--transports", default="pooled,pooled-unix,httpx")
    parser.add_argument("--payloads", default="row", help="row (one 1×4 array, .npy), call, frame, text (msgpack)")
    args = parser.parse_args(argv)
    for name in args.transports.split(","):
        if name not in ("pooled", "pooled-unix", "httpx", "aiohttp"):
            parser.error(f"unknown transport {name!r}: pooled, pooled-unix (its Unix socket), httpx or aiohttp")
    port = _free_port()
    sock = Path(tempfile.mkdtemp(prefix="tiffin-bench-")) / "echo.sock"
    argv_ = [sys.executable, "-m", "app.cli", "runner", "echo", "--runnable", f"{HERE}:Echo"]
    argv_ += ["--host", "127.0.0.1", "--port", str(port), "--uds", str(sock), "--log-level", "warning"]
    proc = subprocess.Popen(argv_, cwd=REPO, start_new_session=True)
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                print("the sidecar did not start", file=sys.stderr)
                return 1
            time.sleep(0.05)
        print(f"{'transport':<12} {'payload':<7} {'c':>3} {'req/s':>8} {'client µs/req':>14} {'runner µs/req':>14}")
        for name in args.transports.split(","):
            url = f"http+unix://{quote(str(sock), safe='')}" if name.endswith("-unix") else f"http://127.0.0.1:{port}"
            for kind in args.payloads.split(","):
                for concurrency in (int(c) for c in args.concurrency.split(",")):
                    r = measure(url, name.removesuffix("-unix"), args.requests, concurrency, proc.pid, kind)
                    row = f"{name:<12} {kind:<7} {concurrency:>3} {r['rps']:>8.0f}"
                    print(f"{row} {r['client_us']:>14.0f} {r['runner_us']:>14.0f}", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
