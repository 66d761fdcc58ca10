"""The gunicorn worker: uvicorn with uvloop/httptools, our lifespan, and gunicorn's grace period."""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker


class TiffinWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "app.process.http_protocol:CoalescingHttpToolsProtocol",  # httptools, one write per answer
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's default is to wait forever for open connections; the master kills us after
        # graceful_timeout anyway, so finish in-flight requests within that instead.
        self.config.timeout_graceful_shutdown = max(0.0, float(self.cfg.graceful_timeout) - 0.5)
