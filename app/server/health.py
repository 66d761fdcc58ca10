"""Liveness and readiness.

Liveness is the process answering. Readiness is every runner the service uses answering its
own ``/readyz``, and turns false for good once the server starts draining (SIGTERM).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from app.server.http_errors import error_body

if TYPE_CHECKING:
    from runners import Runner

_PROBE_TIMEOUT = 2.0


class Readiness:
    def __init__(self, runners: Sequence[Runner]) -> None:
        self.runners = list(runners)
        self.draining = False
        self.started = False

    def start_draining(self) -> None:
        self.draining = True

    async def check(self) -> tuple[bool, dict[str, Any]]:
        if self.draining:
            return False, {"draining": True}
        if not self.started:
            return False, {"starting": True}
        results = await asyncio.gather(*(_probe(r) for r in self.runners))
        runners = {r.name: ok for r, ok in zip(self.runners, results, strict=True)}
        return all(results), {"runners": runners}

    def install_signal_hooks(self) -> None:
        """Flip to draining on SIGTERM/SIGINT, then let the server's own handler run."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                self.start_draining()
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:
                    signal.default_int_handler(signum, frame) if signum == signal.SIGINT else _exit_default(signum)

            try:
                signal.signal(sig, handler)
            except ValueError:  # not the main thread (embedded in a test client)
                return


def _exit_default(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


async def _probe(runner: Runner) -> bool:
    try:
        return bool(await asyncio.wait_for(runner.is_ready(), _PROBE_TIMEOUT))
    except Exception:
        return False


async def readyz(readiness: Readiness) -> Response:
    ready, detail = await readiness.check()
    if ready:
        return Response(orjson.dumps({"status": "ready", **detail}), media_type="application/json")
    message = "The server is shutting down." if readiness.draining else "Not every runner is ready."
    return Response(
        error_body(message, detail), status_code=503, media_type="application/json", headers={"Retry-After": "1"}
    )

