"""Runner streams through real processes: ``tiffin serve`` (the hop on a Unix socket) and a sidecar on TCP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import runners
from tests.procs import Proc, free_port_block, tiffin
from tests.runners.conftest import SAMPLES, Sidecar


@pytest.fixture(scope="module")
def talk() -> Iterator[str]:
    port = free_port_block(2)
    proc = Proc(tiffin("serve", "tests/app/services/stream_runner_service.py:svc", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"))
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def settled(read: Callable[[], dict[str, int]]) -> dict[str, int]:
    """``read()`` once the generator was closed and its count stopped moving."""
    deadline = time.monotonic() + 60
    while True:
        progress = read()
        if progress["closed"] >= 1:
            return progress
        assert time.monotonic() < deadline, progress
        time.sleep(0.05)


def test_a_runners_values_reach_the_http_client_as_they_are_made(talk: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    body = {"words": ["one ", "two ", "three"], "gate": str(gate)}
    with httpx.stream("POST", talk + "/say", json=body, timeout=60) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        chunks = response.iter_raw()
        assert next(chunks) == b"one "  # the model is now waiting for the gate
        assert not gate.exists()
        gate.touch()
        assert b"".join(chunks) == b"two three"


def test_a_client_that_goes_away_stops_the_model(talk: str) -> None:
    with httpx.stream("POST", talk + "/count", json=0.01, timeout=60) as response:
        lines = response.iter_lines()
        assert [json.loads(next(lines)) for _ in range(3)] == [1, 2, 3]
    # the API worker saw the client go, closed its generator, whose runner stream closed the hop
    progress = settled(lambda: httpx.post(talk + "/progress", json=0, timeout=30).json())
    time.sleep(0.3)
    assert httpx.post(talk + "/progress", json=0, timeout=30).json()["made"] == progress["made"]


def test_over_tcp_to_a_sidecar_process(start_sidecar: Callable[..., Sidecar], samples: Any) -> None:
    sidecar = start_sidecar("talker", "--runnable", f"{SAMPLES}:Talker")

    async def main() -> None:
        runner = runners.Runner(samples.Talker, name="talker")
        runner.configure(url=sidecar.url)
        await runner.startup()
        assert [w async for w in runner.words.async_stream({"words": ["a", "b"]})] == ["a", "b"]
        stream: Any = runner.forever.async_stream(0.01)
        assert [await stream.__anext__() for _ in range(2)] == [1, 2]
        await stream.aclose()
        await runner.shutdown()

    asyncio.run(main())
    progress = settled(lambda: httpx.post(sidecar.url + "/progress", json=0, timeout=30).json())
    time.sleep(0.3)
    assert httpx.post(sidecar.url + "/progress", json=0, timeout=30).json()["made"] == progress["made"]
