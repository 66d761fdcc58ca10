"""The deadline of the request being served, shared by the API server and the runner client.

The API server's timeout middleware sets it; the runner client sends it as
``X-Tiffin-Deadline`` (seconds since the epoch) so the sidecar drops work nobody waits for.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

HEADER = "X-Tiffin-Deadline"

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("tiffin_deadline", default=None)


def current() -> float | None:
    """The absolute deadline (``time.time()`` scale) of the current request, if any."""
    return _deadline.get()


def remaining() -> float | None:
    d = _deadline.get()
    return None if d is None else d - time.time()


@contextlib.contextmanager
def scope(deadline: float | None) -> Iterator[None]:
    """Run the block under ``deadline``; an outer, earlier deadline wins."""
    outer = _deadline.get()
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def move(deadline: float | None) -> None:
    """Give the current request a new deadline (a stream's next chunk), until its ``scope`` ends."""
    _deadline.set(deadline)
