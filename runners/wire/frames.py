"""A streamed answer of the hop: one encoded value per frame, in a chunked HTTP body.

A runner method that is a generator answers ``POST /<method>`` with ``200`` and content type
``application/vnd.tiffin.stream``; the body is a sequence of frames, each one line of text and
a payload::

    d <length> <media type>\\n<payload>     a value, encoded by runners.wire.protocol.encode
    e <length> application/json\\n<payload> an error (RunnerError.to_dict); the stream ends here
    z 0 -\\n                                the end: everything was sent

A stream that stops without ``z`` or ``e`` was cut (the runner died, the connection broke).
Frames need not match the HTTP chunks: ``FrameReader`` finds them in whatever bytes arrive.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson

from runners.errors import RunnerError
from runners.wire import protocol

__all__ = [
    "DATA",
    "END",
    "END_FRAME",
    "ERROR",
    "STREAM",
    "Frame",
    "FrameError",
    "FrameReader",
    "data_frame",
    "error_frame",
]

STREAM = "application/vnd.tiffin.stream"
DATA, ERROR, END = b"d", b"e", b"z"
END_FRAME = b"z 0 -\n"
MAX_HEAD = 256  # bytes of a frame's first line
MAX_PAYLOAD = 256 * 1024 * 1024


class FrameError(ValueError):
    """The bytes are not a stream of frames."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: bytes
    media: str
    payload: bytes

    def value(self) -> Any:
        """The value a data frame carries (``protocol.decode``)."""
        return protocol.decode(self.payload, self.media)

    def error(self) -> RunnerError:
        try:
            body = orjson.loads(self.payload)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            body = {"error": "The runner's stream failed.", "detail": self.payload[:200].decode(errors="replace")}
        return RunnerError.from_dict(body, int(body.get("status", 500)) if isinstance(body.get("status"), int) else 500)


def _frame(kind: bytes, media: str, payload: bytes) -> bytes:
    return b"%s %d %s\n" % (kind, len(payload), media.encode("latin-1")) + payload


def data_frame(value: Any, accept: Collection[str] = protocol.ACCEPTED) -> bytes:
    payload, media = protocol.encode(value, accept)
    return _frame(DATA, media, payload)


def error_frame(err: RunnerError) -> bytes:
    body = {**err.to_dict(), "status": err.status_code}
    return _frame(ERROR, protocol.JSON, orjson.dumps(body))


class FrameReader:
    """Frames out of a body that arrives in pieces: ``feed(data)`` returns the frames now complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while True:
            end = self._buffer.find(b"\n", 0, MAX_HEAD + 1)
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise FrameError("a frame's first line is too long")
                return frames
            try:
                kind, length_text, media = bytes(self._buffer[:end]).split(b" ", 2)
                length = int(length_text)
            except ValueError:
                raise FrameError(f"malformed frame line {bytes(self._buffer[:end])[:80]!r}") from None
            if kind not in (DATA, ERROR, END) or not 0 <= length <= MAX_PAYLOAD:
                raise FrameError(f"malformed frame line {bytes(self._buffer[:end])[:80]!r}")
            if len(self._buffer) < end + 1 + length:
                return frames
            payload = bytes(self._buffer[end + 1 : end + 1 + length])
            del self._buffer[: end + 1 + length]
            frames.append(Frame(kind, media.decode("latin-1"), payload))

    @property
    def pending(self) -> int:
        return len(self._buffer)
