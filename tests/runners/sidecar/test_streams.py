"""Streaming generator methods over the hop, in process: a sidecar on a Unix socket and on TCP (uvicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
import uvicorn

import runners
from runners.client.runner_client import RunnerClient
from runners.errors import InvalidInput, RunnerError
from runners.sidecar.server import build_app
from runners.spec import RunnerSpec
from runners.wire import frames
from runners.wire.arguments import Arguments

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runnables.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def sidecar(tmp_path: Path) -> AsyncIterator[tuple[Any, dict[str, str]]]:
    """The Talker sidecar on a Unix socket and on TCP; yields (app, {"unix": url, "tcp": url})."""
    sock = tmp_path / "t.sock"
    port = free_port()
    app = build_app(RunnerSpec("talker", runnable=f"{SAMPLES}:Talker"), unix_socket=str(sock), grace=5.0)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not (server.started and app.host.ready):
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.01)
    try:
        yield app, {"unix": f"http+unix://{quote(str(sock), safe='')}", "tcp": f"http://127.0.0.1:{port}"}
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_values_arrive_as_the_model_makes_them(tmp_path: Path, transport: str) -> None:
    async def main() -> None:
        async with sidecar(tmp_path) as (_, urls):
            client = RunnerClient("talker", urls[transport])
            gate = tmp_path / "gate"
            stream = client.stream("words", Arguments.of({"words": ["a", "b", "c"], "gate": str(gate)}))
            assert await stream.__anext__() == "a"  # the model now waits for the gate
            assert not gate.exists()
            gate.touch()
            assert [w async for w in stream] == ["b", "c"]
            assert [w async for w in client.stream("async_words", Arguments.of({"words": ["x", "y"]}))] == ["x", "y"]
            arrays = [a async for a in client.stream("arrays", Arguments.of(3))]
            assert [a.dtype for a in arrays] == [np.float32] * 3 and [int(a[0, 0]) for a in arrays] == [0, 1, 2]
            await client.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_closing_the_stream_stops_the_models_generator(tmp_path: Path, transport: str) -> None:
    async def main() -> None:
        async with sidecar(tmp_path) as (_, urls):
            client = RunnerClient("talker", urls[transport])
            async with client.stream("forever", Arguments.of(0.005)) as stream:
                assert [await stream.__anext__() for _ in range(3)] == [1, 2, 3]
            deadline = time.monotonic() + 30
            while (progress := await client.call("progress", Arguments.of(0)))["closed"] < 1:
                assert time.monotonic() < deadline, progress
                await asyncio.sleep(0.02)
            stopped = progress["made"]
            await asyncio.sleep(0.2)
            assert (await client.call("progress", Arguments.of(0)))["made"] == stopped  # nothing more is generated
            await client.aclose()

    asyncio.run(main())


def test_errors_before_and_during_a_stream(tmp_path: Path) -> None:
    async def main() -> None:
        async with sidecar(tmp_path) as (_, urls):
            client = RunnerClient("talker", urls["unix"])
            stream = client.stream("breaks", Arguments.of(2))
            assert [await stream.__anext__(), await stream.__anext__()] == [0, 1]
            with pytest.raises(InvalidInput, match="the model broke mid-stream"):  # its own message
                await stream.__anext__()
            with pytest.raises(InvalidInput, match="streams its values"):
                await client.call("words", Arguments.of({"words": []}))
            with pytest.raises(RunnerError):
                async for _ in client.stream("words", Arguments.of(42)):  # the model cannot iterate an int's words
                    pass
            await client.aclose()

    asyncio.run(main())


def test_a_runner_handle_streams_remotely_and_locally(tmp_path: Path, samples: Any) -> None:
    async def main() -> None:
        async with sidecar(tmp_path) as (_, urls):
            runner = runners.Runner(samples.Talker, name="talker")
            runner.configure(url=urls["unix"])
            await runner.startup()
            assert [w async for w in runner.words.async_stream({"words": ["p", "q"]})] == ["p", "q"]
            with pytest.raises(TypeError, match="async_stream"):
                await runner.words.async_run({"words": []})
            with pytest.raises(TypeError, match="not a generator"):
                runner.progress.async_stream(0)
            await runner.shutdown()
        local = runners.Runner(samples.Talker, name="talker")
        local.init_local()
        assert [w async for w in local.words.async_stream({"words": ["l"]})] == ["l"]
        stream = local.forever.async_stream(0.001)
        assert [await stream.__anext__() for _ in range(2)] == [1, 2]
        await stream.aclose()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while local._local.closed < 1:  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

    asyncio.run(main())


def test_frames_are_found_in_any_pieces() -> None:
    body = frames.data_frame({"a": 1}) + frames.data_frame(np.arange(3)) + frames.END_FRAME
    reader = frames.FrameReader()
    found = [f for i in range(len(body)) for f in reader.feed(body[i : i + 1])]
    assert [f.kind for f in found] == [frames.DATA, frames.DATA, frames.END]
    assert found[0].value() == {"a": 1} and list(found[1].value()) == [0, 1, 2]
    with pytest.raises(frames.FrameError):
        frames.FrameReader().feed(b"q 1 x\nz")
    with pytest.raises(frames.FrameError):
        frames.FrameReader().feed(b"d" * 300)
