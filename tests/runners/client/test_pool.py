"""``PooledTransport`` and ``Connection`` against small scripted HTTP servers in the same loop."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from runners.client.connection import request_bytes
from runners.client.pool import PooledTransport, split_url
from runners.client.transport import ConnectFailed, ConnectionLost, ConnectTimedOut, TimedOut
from tests.waiting import wait_until_async

T = TypeVar("T")
Reply = Callable[[bytes], Awaitable[bytes | None]]  # request head and body -> raw answer (None: hang up)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def ok(body: bytes = b"hi", extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


class Server:
    """Reads one request at a time per connection and writes what ``reply`` says."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = await self.reply(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"\r\nconnection: close\r\n" in answer.partition(b"\r\n\r\n")[0] + b"\r\n":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(reply: Reply, unix_path: Path | None = None) -> AsyncIterator[tuple[Server, str]]:
    server = Server(reply)
    if unix_path is not None:
        listener = await asyncio.start_unix_server(server.handle, str(unix_path))
        origin = f"http+unix://{quote(str(unix_path), safe='')}"
    else:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        origin = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        yield server, origin
    finally:
        for writer in server.writers:
            writer.close()
        listener.close()


async def get(transport: PooledTransport, url: str, *, timeout: float = 5.0, content: bytes | None = None) -> Any:
    return await transport.request(
        "POST" if content is not None else "GET", url, headers={"accept": "*/*"}, content=content, timeout=timeout,
        connect_timeout=1.0,
    )  # fmt: skip


def pool_of(transport: PooledTransport, origin: str) -> Any:
    return transport._pools[origin]  # the one origin's pool: its idle connections and its waiters


def live_timers() -> int:
    # the default asyncio loop keeps its timers in _scheduled: none may outlive the exchange
    loop = asyncio.get_running_loop()
    return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


def test_keep_alive_connections_are_reused_and_every_timer_is_cancelled() -> None:
    async def reply(request: bytes) -> bytes:
        return ok(request.split(b"\r\n\r\n", 1)[1] or b"empty")

    async def main() -> None:
        async with serving(reply) as (server, origin):
            transport = PooledTransport()
            for i in range(20):
                response = await get(transport, f"{origin}/echo", content=f"body {i}".encode())
                assert (response.status, response.content) == (200, f"body {i}".encode())
                assert response.headers["content-type"] == "text/plain"
            assert server.connections == 1
            assert live_timers() == 0
            assert server.requests[0].startswith(b"POST /echo HTTP/1.1\r\nhost: 127.0.0.1:")
            await transport.aclose()

    run(main())


def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end",
        ok(b"after"),
    ]

    async def reply(request: bytes) -> bytes:
        return answers.pop(0)

    async def main() -> None:
        async with serving(reply) as (server, origin):
            transport = PooledTransport()
            assert (await get(transport, origin + "/a")).content == b"abcdefg"
            assert (await get(transport, origin + "/b")).content == b"until the end"
            assert (await get(transport, origin + "/c")).content == b"after"
            assert server.connections == 2  # the close-delimited answer used up its connection
            await transport.aclose()

    run(main())


def test_a_connection_the_runner_closed_while_idle_is_not_reused() -> None:
    async def reply(request: bytes) -> bytes:
        return ok()

    async def main() -> None:
        async with serving(reply) as (server, origin):
            transport = PooledTransport()
            await get(transport, origin + "/")
            for writer in server.writers:
                writer.close()  # the runner ends the keep-alive
            idle = list(pool_of(transport, origin)._idle)
            assert len(idle) == 1
            await wait_until_async(lambda: all(conn.closed for conn in idle), message="the client seeing the hang-up")
            assert (await get(transport, origin + "/")).status == 200
            assert server.connections == 2
            await transport.aclose()

    run(main())


def test_keep_alive_expiry_closes_old_idle_connections() -> None:
    async def reply(request: bytes) -> bytes:
        return ok()

    async def main() -> None:
        async with serving(reply) as (server, origin):
            transport = PooledTransport(keepalive_expiry=0.05)
            await get(transport, origin + "/")
            await asyncio.sleep(0.1)  # idle past keepalive_expiry
            await get(transport, origin + "/")
            assert server.connections == 2
            await transport.aclose()

    run(main())


def test_a_hang_up_mid_answer_is_connection_lost_and_garbage_too() -> None:
    async def hang_up(request: bytes) -> bytes | None:
        if b"/partial" in request:
            return b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nonly part"
        return None

    async def garbage(request: bytes) -> bytes:
        return b"this is not HTTP\r\n\r\n"

    async def main() -> None:
        transport = PooledTransport()
        async with serving(hang_up) as (_, origin):
            with pytest.raises(ConnectionLost):
                await get(transport, origin + "/nothing")
            with pytest.raises(ConnectionLost):
                await get(transport, origin + "/partial")
        async with serving(garbage) as (_, origin):
            with pytest.raises(ConnectionLost, match="malformed"):
                await get(transport, origin + "/")
        assert live_timers() == 0
        await transport.aclose()

    run(main())


def test_no_answer_in_time_is_timed_out_and_the_connection_is_dropped() -> None:
    release = asyncio.Event()

    async def slow(request: bytes) -> bytes:
        if b"/slow" in request:
            await release.wait()
        return ok()

    async def main() -> None:
        nonlocal release
        release = asyncio.Event()
        async with serving(slow) as (server, origin):
            transport = PooledTransport()
            with pytest.raises(TimedOut):
                await get(transport, origin + "/slow", timeout=0.05)
            release.set()
            assert (await get(transport, origin + "/fast")).status == 200
            assert server.connections == 2  # the timed-out connection was not reused
            assert live_timers() == 0
            await transport.aclose()

    run(main())


def test_a_cancelled_caller_leaves_no_half_used_connection_behind() -> None:
    release = asyncio.Event()

    async def slow(request: bytes) -> bytes:
        if b"/slow" in request:
            await release.wait()
            return ok(b"late")
        return ok(b"fresh")

    async def main() -> None:
        nonlocal release
        release = asyncio.Event()
        async with serving(slow) as (server, origin):
            transport = PooledTransport()
            waiting = asyncio.ensure_future(get(transport, origin + "/slow"))
            await wait_until_async(lambda: len(server.requests) == 1, message="the slow request at the runner")
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            release.set()
            assert (await get(transport, origin + "/next")).content == b"fresh"
            assert live_timers() == 0
            await transport.aclose()

    run(main())


def test_connect_failures_are_connect_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed

    async def main() -> None:
        transport = PooledTransport()
        with pytest.raises(ConnectFailed):
            await get(transport, f"http://127.0.0.1:{port}/x")
        with pytest.raises(ConnectFailed):
            await get(transport, f"http+unix://{quote('/nonexistent/tiffin.sock', safe='')}/x")

        async def never(*_: Any) -> Any:
            await asyncio.sleep(10)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("runners.client.pool._Origin.connect", never)
            with pytest.raises(ConnectTimedOut):
                await transport.request("GET", f"http://127.0.0.1:{port}/x", headers={}, content=None, timeout=5,
                                        connect_timeout=0.05)  # fmt: skip
        await transport.aclose()

    run(main())


def test_unix_sockets_and_the_connection_limit(tmp_path: Path) -> None:
    gate = asyncio.Event()
    inside = 0
    most = 0

    async def reply(request: bytes) -> bytes:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await gate.wait()
        inside -= 1
        return ok()

    async def main() -> None:
        nonlocal gate
        gate = asyncio.Event()
        async with serving(reply, unix_path=tmp_path / "r.sock") as (server, origin):
            transport = PooledTransport(max_connections=3)
            calls = [asyncio.ensure_future(get(transport, origin + f"/{i}")) for i in range(10)]
            await wait_until_async(
                lambda: inside == 3 and len(pool_of(transport, origin)._waiters) == 7,
                message="3 requests at the runner and 7 waiting for a connection",
            )
            assert server.connections == 3 and most == 3
            gate.set()
            assert [r.status for r in await asyncio.gather(*calls)] == [200] * 10
            assert server.connections == 3
            assert server.requests[0].split(b"\r\n")[1] == b"host: localhost"
            await transport.aclose()

    run(main())


def test_a_waiter_past_its_deadline_gives_up_without_taking_a_slot() -> None:
    gate = asyncio.Event()

    async def reply(request: bytes) -> bytes:
        await gate.wait()
        return ok()

    async def main() -> None:
        nonlocal gate
        gate = asyncio.Event()
        async with serving(reply) as (server, origin):
            transport = PooledTransport(max_connections=1)
            first = asyncio.ensure_future(get(transport, origin + "/first"))
            await wait_until_async(lambda: len(server.requests) == 1, message="the first request holding the connection")
            with pytest.raises(TimedOut, match="came free"):
                await get(transport, origin + "/second", timeout=0.05)
            gate.set()
            assert (await first).status == 200
            assert (await get(transport, origin + "/third")).status == 200
            assert server.connections == 1
            await transport.aclose()

    run(main())


def test_request_bytes_and_urls() -> None:
    data = request_bytes("POST", "/predict", "runner:3001", {"content-type": "application/x-npy"}, b"\x93NUMPY")
    assert data == (
        b"POST /predict HTTP/1.1\r\nhost: runner:3001\r\ncontent-type: application/x-npy\r\n"
        b"content-length: 6\r\n\r\n\x93NUMPY"
    )
    assert request_bytes("GET", "/readyz", "h", {"host": "other"}, None) == b"GET /readyz HTTP/1.1\r\nhost: h\r\n\r\n"
    with pytest.raises(ValueError, match="line break"):
        request_bytes("GET", "/", "h", {"x": "a\r\nevil: 1"}, None)
    assert split_url("http://10.0.0.1:3001/p/predict?q=1") == ("http://10.0.0.1:3001", "/p/predict?q=1")
    assert split_url("http+unix://%2Ftmp%2Fr.sock/readyz") == ("http+unix://%2Ftmp%2Fr.sock", "/readyz")
    assert split_url("http://h:1") == ("http://h:1", "/")
