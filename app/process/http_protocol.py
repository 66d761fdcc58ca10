"""uvicorn's httptools protocol, writing each answer in one system call instead of two.

uvicorn writes a response's status line and headers when the app sends
``http.response.start``, and the body when it sends ``http.response.body``: two ``write``
calls, so two system calls per answer, and the client wakes twice. Profiled under load
(``py-spy``, 64 connections, iris), those writes were a quarter to a third of an API worker's
CPU: a system call is dear in a virtual machine. ``CoalescingHttpToolsProtocol`` hands uvicorn a
transport that gathers what is written during one turn of the event loop and writes it at the
end of that turn, in one call: a response sent in one go (every JSON or ``.npy`` answer) leaves
in one system call. Nothing waits longer than the current turn, a close or abort first deals
with what is gathered, and more than ``FLUSH_AT`` bytes are written at once, so a large or
streamed body never piles up here.

It also closes idle keep-alive connections gently when the server drains (SIGTERM). uvicorn
closes them at once, but a client cannot know we are about to: a request it sent just before,
still unread in the socket, is lost to a reset. ``shutdown`` instead waits ``DRAIN_GRACE``
seconds, so such a request is read and answered (with ``connection: close``), then closes every
connection that is still idle. A request that arrives later than that was sent after the
drain began, on a connection the client had left idle all that time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

FLUSH_AT = 64 * 1024
DRAIN_GRACE = 0.25  # seconds an idle connection stays open once the server drains

__all__ = ["CoalescingHttpToolsProtocol", "CoalescingTransport"]


class CoalescingTransport:
    """A transport whose writes of one event-loop turn go out as one write; the rest is the real one's."""

    __slots__ = ("_chunks", "_loop", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._chunks: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._chunks:
            self._loop.call_soon(self.flush)
        self._chunks.append(data)
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        chunks = self._chunks
        if not chunks:
            return
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._chunks = []
        self._size = 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return int(self._transport.get_write_buffer_size()) + self._size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    draining = False

    @staticmethod
    def drain(server_state: ServerState) -> None:
        """From now on, connections the server accepts answer once and close (``uvicorn_worker``)."""
        server_state.tiffin_draining = True  # type: ignore[attr-defined]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]  # uvloop's transports are not subclasses
        self.transport = CoalescingTransport(self.transport, self.loop)  # type: ignore[assignment]
        self.draining = getattr(self.server_state, "tiffin_draining", False)

    def shutdown(self) -> None:
        """The server drains: answer what is under way or already sent, then close."""
        self.draining = True
        if self._idle():
            self.loop.call_later(DRAIN_GRACE, self._close_if_idle)
        else:
            super().shutdown()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False  # the answer says connection: close, and the connection closes

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _close_if_idle(self) -> None:
        if self._idle() and not self.transport.is_closing():
            self.transport.close()
