"""``DrainingServer``: on SIGTERM, connections already queued for the worker are answered, not reset."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn

from app.process import uvicorn_worker
from app.process.http_protocol import CoalescingHttpToolsProtocol
from app.process.uvicorn_worker import DrainingServer, take_queued
from tests.app.process.test_http_protocol import app

REQUEST = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_take_queued_accepts_what_waits_without_blocking() -> None:
    with _listener() as listener:
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            taken = take_queued([listener])
            assert len(taken) == 3 and take_queued([listener]) == []
            for conn in taken:
                conn.close()
        finally:
            for client in clients:
                client.close()


def test_connections_queued_when_the_listener_closes_are_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn_worker, "DRAIN_GRACE", 0.01)

    async def scenario(listener: socket.socket) -> list[socket.socket]:
        config = uvicorn.Config(app, http=CoalescingHttpToolsProtocol, log_level="warning", lifespan="off")
        config.load()
        server = DrainingServer(config)
        server.lifespan = config.lifespan_class(config)  # what Server.serve sets up before startup
        await server.startup(sockets=[listener])
        # the server stops taking connections (as a busy worker would): these wait in the kernel's queue
        asyncio.get_running_loop().remove_reader(listener.fileno())
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        for client in clients:
            client.sendall(REQUEST)
        await server.shutdown(sockets=[listener])
        return clients

    with _listener() as listener:
        clients = asyncio.run(scenario(listener))
    try:
        for client in clients:
            answer = _read_all(client)  # ConnectionResetError when the queue was dropped
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")
            assert b"connection: close" in answer.lower()
    finally:
        for client in clients:
            client.close()
