"""A small closed-loop load client: ``c`` keep-alive HTTP/1.1 connections, every request recorded.

Each of ``concurrency`` tasks sends one request at a time on its own raw asyncio connection and
opens a new one when the server closed it (or it broke). Every request becomes an ``Outcome``:
its start and end (``time.monotonic()``), and either the status of a whole answer or how it
failed::

    refused   no connection (ECONNREFUSED, or the connect itself timed out)
    reset     the connection broke before a whole answer came (RST, or EOF)
    timeout   no whole answer within ``client_timeout``: a hang (keep it well above the
              server's deadline so a hang is seen as one, not hidden behind it)
    wrong     a 200 whose body is not the expected one

A connection that failed, or an answer other than a 200, pauses its task ``FAILURE_PAUSE``
seconds before the next request, as a client would: sixteen tasks answered 503 in a tight loop
would take the CPU a restarting runner needs, and measure that instead of the restart.

A reset also records whether the connection was fresh (its first request) and whether any byte
of the answer had come: an idle keep-alive connection closed by a draining server just as we
reused it is a different thing from an answer cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Load", "Outcome", "post_request"]

ERRORS = ("refused", "reset", "timeout", "wrong")
FAILURE_PAUSE = 0.05  # seconds


@dataclass(frozen=True, slots=True)
class Outcome:
    start: float
    end: float
    status: int | None  # the answer's status, None when the exchange failed
    error: str | None = None  # one of ERRORS, or None
    fresh: bool = False  # the request was the first on its connection
    partial: bool = False  # some bytes of the answer had come before it broke

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    @property
    def kind(self) -> str:
        """``"200"``, ``"503"``, ... or the error."""
        return self.error if self.error is not None else str(self.status)

    @property
    def seconds(self) -> float:
        return self.end - self.start


def post_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _Broken(Exception):
    def __init__(self, partial: bool) -> None:
        self.partial = partial


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """The status, the body and whether the server keeps the connection open."""
    got_any = False
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        got_any = True
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            return status, await reader.read(), False
    except asyncio.IncompleteReadError as exc:
        raise _Broken(got_any or bool(exc.partial)) from None
    except (ConnectionError, OSError, ValueError, IndexError):
        raise _Broken(got_any) from None
    keep = headers.get("connection", "").lower() != "close"
    return status, body, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class Load:
    """``concurrency`` connections sending ``request`` back to back until ``stop()``."""

    host: str
    port: int
    request: bytes
    expected: bytes  # the 200 body, whitespace ignored
    concurrency: int = 16
    client_timeout: float = 10.0
    connect_timeout: float = 2.0
    outcomes: list[Outcome] = field(default_factory=list)
    on_outcome: Callable[[Outcome], None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(self.concurrency)]

    async def stop(self) -> list[Outcome]:
        """Let every request in flight end (each is bounded by ``client_timeout``), then stop."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        return sorted(self.outcomes, key=lambda o: o.start)

    def _record(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    async def _loop(self) -> None:
        expected = b"".join(self.expected.split())
        while not self._stopping.is_set():
            start = time.monotonic()
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError):
                self._record(Outcome(start, time.monotonic(), None, "refused", fresh=True))
                await asyncio.sleep(FAILURE_PAUSE)
                continue
            try:
                last = await self._exchanges(reader, writer, expected, start)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            if last is not None and not last.ok:
                await asyncio.sleep(FAILURE_PAUSE)

    async def _exchanges(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, expected: bytes, start: float
    ) -> Outcome | None:
        """Requests on one connection until it closes; the last one's outcome."""
        fresh = True
        outcome: Outcome | None = None
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(self.client_timeout - (time.monotonic() - start)):
                    writer.write(self.request)
                    await writer.drain()
                    status, body, keep = await _read_answer(reader)
            except TimeoutError:
                return self._record(Outcome(start, time.monotonic(), None, "timeout", fresh=fresh))
            except _Broken as exc:
                return self._record(Outcome(start, time.monotonic(), None, "reset", fresh=fresh, partial=exc.partial))
            except (ConnectionError, OSError):
                return self._record(Outcome(start, time.monotonic(), None, "reset", fresh=fresh))
            wrong = status == 200 and b"".join(body.split()) != expected
            outcome = self._record(Outcome(start, time.monotonic(), status, "wrong" if wrong else None, fresh=fresh))
            if not keep:
                return outcome
            if not outcome.ok:
                await asyncio.sleep(FAILURE_PAUSE)
            fresh = False
            start = time.monotonic()
        return outcome
