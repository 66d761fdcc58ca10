"""``CoalescingTransport``: what one event-loop turn writes leaves in one write, and nothing is lost."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.process.http_protocol import FLUSH_AT, CoalescingHttpToolsProtocol, CoalescingTransport


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_writes_of_one_turn_leave_together_at_its_end() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        real = Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        during = list(real.writes)
        await asyncio.sleep(0)
        return during, real.writes

    during, after = asyncio.run(scenario())
    assert during == [] and after == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_close_flushes_first_abort_drops_and_big_writes_go_at_once() -> None:
    async def scenario() -> Recorder:
        real = Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"x" * FLUSH_AT)
        assert real.writes == [b"x" * FLUSH_AT]
        transport.write(b"last")
        assert transport.get_write_buffer_size() == 4
        transport.close()
        assert real.writes[-1] == b"last" and real.closed
        assert transport.get_extra_info("peername") == "info:peername"
        return real

    asyncio.run(scenario())

    async def aborted() -> Recorder:
        real = Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"never")
        transport.abort()
        await asyncio.sleep(0)
        return real

    real = asyncio.run(aborted())
    assert real.aborted and real.writes == []


def test_write_eof_sends_what_is_gathered_first() -> None:
    async def scenario() -> list[bytes]:
        real = Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 413 Content Too Large\r\n\r\n")
        transport.write_eof()
        await asyncio.sleep(0)
        return real.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 413 Content Too Large\r\n\r\n", b"<eof>"]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                await asyncio.sleep(0.01)
                yield f"{i};".encode()

        await StreamingResponse(chunks())(scope, receive, send)
    else:
        await PlainTextResponse("hello")(scope, receive, send)


def test_a_real_uvicorn_server_answers_whole_and_streams_in_order() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol, log_level="warning",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.05)
            for _ in range(3):  # keep-alive: several answers on one connection
                assert client.get("/").text == "hello"
            assert client.get("/stream").text == "0;1;2;"
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            data = b""
            while chunk := raw.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"hello")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_draining_server_answers_a_request_already_sent_on_an_idle_connection() -> None:
    """SIGTERM found a request unread in an idle keep-alive connection: answered, not reset."""

    async def scenario() -> tuple[bytes, bytes]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol,
                                log_level="warning", lifespan="off")  # fmt: skip
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"
        writer.write(request)
        first = await reader.readuntil(b"hello")
        writer.write(request)  # in the socket, not read yet: nothing yields before the drain begins
        for connection in list(server.server_state.connections):
            connection.shutdown()
        try:
            second = await asyncio.wait_for(reader.read(), 5)  # the whole answer, then the close
        finally:
            writer.close()
            server.should_exit = True
            await serving
        return first, second

    first, second = asyncio.run(scenario())
    assert first.startswith(b"HTTP/1.1 200") and b"connection: close" not in first.lower()
    assert second.startswith(b"HTTP/1.1 200") and second.endswith(b"hello")
    assert b"connection: close" in second.lower()
