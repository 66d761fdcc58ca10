"""The gunicorn worker: uvicorn with uvloop/httptools, our lifespan, gunicorn's grace period and
the connection limits of ``server.*`` (``app.process.http_limits``)."""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

from app.process.http_limits import LimitedHttpToolsProtocol, Limits


class TiffinWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "app.process.http_limits:LimitedHttpToolsProtocol",  # httptools, one write per answer, limits
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's default is to wait forever for open connections; the master kills us after
        # graceful_timeout anyway, so finish in-flight requests within that instead.
        self.config.timeout_graceful_shutdown = max(0.0, float(self.cfg.graceful_timeout) - 0.5)
        server = getattr(getattr(self.app, "config", None), "server", None)  # ApiServer's TiffinConfig
        if server is not None:
            self.config.timeout_keep_alive = server.keepalive_timeout
            self.config.http = LimitedHttpToolsProtocol.with_limits(
                Limits(
                    header_timeout=server.header_timeout,
                    body_timeout=server.body_timeout,
                    max_header_size=server.max_header_size,
                    max_headers=server.max_headers,
                )
            )
