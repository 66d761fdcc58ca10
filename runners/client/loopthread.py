"""A private event loop in a daemon thread, for sync runner calls made where no loop is running
(plain scripts, notebooks' worker threads). Started on first use, never at import, and again
in a forked child, where the parent's thread does not exist."""

from __future__ import annotations

import asyncio
import os
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="tiffin-runner-client", daemon=True).start()
            started.wait()
            _loop, _pid = loop, os.getpid()
        return _loop
