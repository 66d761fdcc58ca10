"""A small HTTP/1.1 client on asyncio streams: keep-alive connections, every answer or failure kept.

httpx spends more CPU per request than the server under test does on a 400; this client writes
the request bytes as given and reads the answer by its Content-Length (or chunks), so a few
hundred requests a second cost little. A failure is named rather than raised: ``reset`` (the
connection broke before a whole answer), ``timeout`` (no whole answer in time: a hang).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Answer", "Request", "send_all"]

_HEAD_LIMIT = 1 << 16


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    tag: str = ""  # what the body is, for the histograms


@dataclass(frozen=True)
class Answer:
    request: Request
    status: int  # 0: no whole answer
    headers: dict[str, str]
    body: bytes
    failure: str | None  # None, "reset" or "timeout"
    seconds: float


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


async def _open(host: str, port: int) -> _Connection:
    reader, writer = await asyncio.open_connection(host, port, limit=_HEAD_LIMIT)
    return _Connection(reader, writer)


def encode(request: Request, host: str) -> bytes:
    names = {name.lower() for name, _ in request.headers}
    lines = [f"POST {request.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in request.headers]
    if "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = await reader.read()
    return status, headers, body


async def _exchange(conn: _Connection, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    conn.writer.write(raw)
    try:
        await conn.writer.drain()
    except ConnectionError:
        pass  # a server may answer (413) and close before reading a whole body: read what it said
    return await _read_answer(conn.reader)


async def _worker(
    host: str,
    port: int,
    queue: AsyncIterator[Request],
    timeout: float,
    on_answer: Callable[[Answer], None],
) -> None:
    conn: _Connection | None = None
    try:
        async for request in queue:
            if conn is None:
                conn = await _open(host, port)
            started = time.monotonic()
            failure: str | None = None
            status, body = 0, b""
            headers: dict[str, str] = {}
            try:
                status, headers, body = await asyncio.wait_for(_exchange(conn, encode(request, host)), timeout)
            except TimeoutError:
                failure = "timeout"
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
                failure = "reset"
            on_answer(Answer(request, status, headers, body, failure, time.monotonic() - started))
            if failure is not None or headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()


class _Shared:
    """One iterator of requests shared by the workers."""

    def __init__(self, requests: Iterable[Request]) -> None:
        self._it = iter(requests)

    def __aiter__(self) -> _Shared:
        return self

    async def __anext__(self) -> Request:
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration from None


async def _send_all(
    host: str, port: int, requests: Iterable[Request], concurrency: int, timeout: float
) -> list[Answer]:
    answers: list[Answer] = []
    shared = _Shared(requests)
    await asyncio.gather(*(_worker(host, port, shared, timeout, answers.append) for _ in range(concurrency)))
    return answers


def send_all(
    host: str, port: int, requests: Iterable[Request], *, concurrency: int = 12, timeout: float = 30.0
) -> Sequence[Answer]:
    """Send every request over ``concurrency`` keep-alive connections; one ``Answer`` each."""
    return asyncio.run(_send_all(host, port, requests, concurrency, timeout))
