"""Hostile HTTP/1.1 clients on raw sockets: what each sends, and what it got back and when.

An attack is a script, an async generator of the bytes to write (it sleeps where the attacker
dawdles), run on a fresh connection while the answer is read until the server closes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

Script = Callable[[], AsyncIterator[bytes]]

CLASSIFY = b"POST /classify HTTP/1.1\r\nhost: hostile\r\ncontent-type: application/json\r\n"


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the answer's status; None: the server answered nothing
    answered_after: float | None  # seconds from connecting to the answer's first byte
    closed_after: float | None  # seconds from connecting to the server's close; None: open at give-up (a hang)
    sent: int  # bytes the attacker got written
    error: str | None = None  # a reset, or a connection that could not be made

    @property
    def hung(self) -> bool:
        return self.closed_after is None and self.error is None


async def attack(host: str, port: int, script: Script, *, give_up: float) -> Outcome:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)
    except (OSError, TimeoutError) as exc:
        return Outcome(None, None, None, 0, f"connect: {type(exc).__name__}: {exc}")
    sent = 0

    async def write() -> None:
        nonlocal sent
        try:
            async for chunk in script():
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
                await asyncio.sleep(0)  # drain() does not yield while the kernel takes it all: the readers must run
        except OSError:  # the server closed on us: the reader tells what happened
            pass

    sending = asyncio.create_task(write())
    answer = b""
    answered_after = closed_after = None
    error = None
    try:
        async with asyncio.timeout(give_up):
            while chunk := await reader.read(65536):
                if not answer:
                    answered_after = time.monotonic() - started
                answer += chunk[: max(0, 4096 - len(answer))]
            closed_after = time.monotonic() - started
    except TimeoutError:
        pass
    except OSError as exc:
        closed_after = time.monotonic() - started
        error = None if answer else f"{type(exc).__name__}"  # a reset after the answer is how a close ends
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.transport.abort()
    return Outcome(status_of(answer), answered_after, closed_after, sent, error)


def status_of(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


async def forever() -> None:
    await asyncio.Event().wait()


# -- scripts ----------------------------------------------------------------------------------


def slowloris(interval: float) -> Script:
    """A request head one header line at a time, ``interval`` seconds apart, never finished."""

    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY
        line = 0
        while True:
            await asyncio.sleep(interval)
            line += 1
            yield b"x-slow-%d: loris\r\n" % line

    return script


def silent() -> Script:
    """Connects and sends nothing."""

    async def script() -> AsyncIterator[bytes]:
        await forever()
        yield b""

    return script


def idle_after_answer() -> Script:
    """One good request, then the keep-alive connection held open, idle."""

    async def script() -> AsyncIterator[bytes]:
        yield b"GET /livez HTTP/1.1\r\nhost: hostile\r\n\r\n"
        await forever()

    return script


def stalled_body() -> Script:
    """A body that promises 1,000 bytes, sends five and stops."""

    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY + b"content-length: 1000\r\n\r\n[[5.9"
        await forever()

    return script


def drip_body(interval: float) -> Script:
    """A body that never ends: one byte every ``interval`` seconds, never a gap long enough to time out."""

    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY + b"content-length: 100000\r\n\r\n"
        while True:
            yield b" "
            await asyncio.sleep(interval)

    return script


def endless_chunked() -> Script:
    """A chunked body sent as fast as the server takes it, with no last chunk."""

    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY + b"transfer-encoding: chunked\r\n\r\n"
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        while True:
            yield chunk

    return script


def endless_trailer() -> Script:
    """A chunked body whose trailer line never ends, sent as fast as the server reads."""

    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY + b"transfer-encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\nx-trailer: "
        block = b"t" * 0x10000
        while True:
            yield block

    return script


def declared_huge(size: int = 2 * 1024**3) -> Script:
    """A declared ``size``-byte body, then body bytes as fast as the server takes them."""

    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY + b"content-length: %d\r\n\r\n" % size
        block = b" " * 0x10000
        for _ in range(size // len(block)):
            yield block

    return script


def long_header_line(size: int) -> Script:
    async def script() -> AsyncIterator[bytes]:
        yield CLASSIFY + b"x-long: " + b"a" * size + b"\r\ncontent-length: 2\r\n\r\n[]"
        await forever()

    return script


def many_headers(count: int) -> Script:
    async def script() -> AsyncIterator[bytes]:
        lines = b"".join(b"x-many-%d: h\r\n" % i for i in range(count))
        yield CLASSIFY + lines + b"content-length: 2\r\n\r\n[]"
        await forever()

    return script


def long_url(size: int) -> Script:
    async def script() -> AsyncIterator[bytes]:
        yield b"GET /livez?" + b"q" * size + b" HTTP/1.1\r\nhost: hostile\r\n\r\n"
        await forever()

    return script


async def many(host: str, port: int, script: Script, count: int, *, give_up: float) -> list[Outcome]:
    """``count`` connections of ``script`` at once."""
    return list(await asyncio.gather(*(attack(host, port, script, give_up=give_up) for _ in range(count))))
