"""The runner sidecar: one process, one model copy, served over HTTP (see ``runners.wire.protocol``).

    build_app(spec) -> ASGI app    # for tests and embedding
    serve(spec, host, port)        # what ``tiffin runner NAME`` runs; returns an exit code
    serve(spec, host, port, uds="/run/tiffin/iris_clf.sock")   # also on a Unix socket

With ``uds`` the sidecar listens on both: the Unix socket for API workers on the same machine
(``http+unix://`` URLs, served by ``runners.sidecar.unix_server``, a cheaper hop than uvicorn over
loopback TCP) and TCP for everyone else, Prometheus included.

``/livez`` answers from the first moment; the model loads in the background after startup and
``/readyz`` turns 200 when it is loaded, and 503 again from SIGTERM on (``serve`` marks the host
draining before uvicorn starts its graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from runners.wire import protocol
from runners.sidecar.calls import MethodEndpoint
from runners.sidecar.unix_server import HopServer
from runners.sidecar.host import ModelHost
from runners.sidecar.runner_metrics import RunnerMetrics
from runners.spec import RunnerSpec
from runners.store.model_store import ModelStore

logger = logging.getLogger("runners.sidecar.server")

EXIT_LOAD_FAILED = 3


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=protocol.JSON, headers=headers)


class RunnerApp(Starlette):
    """Starlette for the probes, ``/info`` and ``/metrics``; calls of a loaded method skip it.

    ``POST /<method>`` of a method the model has goes straight to the ``MethodEndpoint``, past
    Starlette's middleware and routing; anything else (an unknown method, a call while the model
    loads, a wrong HTTP method) takes the routed path to the same endpoint, or to a 404/405.
    """

    def __init__(self, *, calls: MethodEndpoint, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.calls.host.serves(scope["path"][1:]):
            await self.calls(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_app(
    spec: RunnerSpec,
    *,
    registry: CollectorRegistry | None = None,
    store: ModelStore | None = None,
    on_load_error: Callable[[BaseException], None] | None = None,
    unix_socket: str | None = None,
    grace: float = 30.0,
    freeze_after_load: bool = False,
) -> RunnerApp:
    """The sidecar's ASGI app; with ``unix_socket``, its lifespan also serves calls on that socket.

    ``freeze_after_load`` (the sidecar process, not tests) hands what exists once the model is
    loaded to ``gc.freeze()``.
    """
    registry = registry if registry is not None else CollectorRegistry()
    host = ModelHost(spec, metrics=RunnerMetrics(registry), store=store)

    calls = MethodEndpoint(host)

    async def livez(request: Request) -> Response:
        return _json({"status": "alive"})

    async def readyz(request: Request) -> Response:
        if host.ready:
            return _json({"status": "ready"})
        return _json({"status": host.state, "error": host.error}, 503, {"Retry-After": "1"})

    async def info(request: Request) -> Response:
        return _json(host.describe())

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = "NotFound" if exc.status_code == 404 else "MethodNotAllowed" if exc.status_code == 405 else "HTTPError"
        return _json({"error": str(exc.detail), "type": kind}, exc.status_code, dict(exc.headers or {}))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        def loaded(task: asyncio.Task[None]) -> None:
            error = None if task.cancelled() else task.exception()  # the host has logged it
            if error is not None and on_load_error is not None:
                on_load_error(error)
            elif error is None and not task.cancelled() and freeze_after_load:
                # Everything loaded so far (the framework, the model) lives as long as the process:
                # out of the collector's sight, a full collection scans only what serving makes,
                # instead of stalling every request in flight for ~60 ms (150k objects, iris SVC).
                gc.freeze()

        loading = asyncio.create_task(host.load())
        loading.add_done_callback(loaded)
        hop: HopServer | None = None
        try:
            if unix_socket is not None:
                hop = HopServer(host)
                await hop.start(unix_socket)
            yield
        finally:
            if hop is not None:
                await hop.close(grace)
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await host.close()

    app = RunnerApp(
        routes=[
            Route("/livez", livez, methods=["GET"]),
            Route("/healthz", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/info", info, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/{method}", calls, methods=["POST"]),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
        calls=calls,
    )
    app.state.host = host
    app.state.registry = registry
    return app


class _Server(uvicorn.Server):
    """Marks the host draining the moment a shutdown signal arrives, before connections drain."""

    def __init__(self, config: uvicorn.Config, host: ModelHost) -> None:
        super().__init__(config)
        self._model_host = host

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._model_host.drain()
        super().handle_exit(sig, frame)
        # A drained stop is a clean exit (0, as gunicorn does): uvicorn would re-raise the signal after.
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def serve(
    spec: RunnerSpec,
    host: str = "0.0.0.0",
    port: int = 3001,
    *,
    uds: str | None = None,
    log_level: str = "info",
    access_log: bool = False,
    graceful_timeout: float = 30.0,
    log_config: dict[str, Any] | str | None = uvicorn.config.LOGGING_CONFIG,
    store: ModelStore | None = None,
) -> int:
    """Serve ``spec`` until SIGINT/SIGTERM; 0 on a clean stop, ``EXIT_LOAD_FAILED`` if the model fails to load.

    ``log_config=None`` keeps the logging the caller set up (uvicorn's own config otherwise).
    """
    failed: list[BaseException] = []
    server: _Server | None = None

    def stop(exc: BaseException) -> None:
        failed.append(exc)
        if server is not None:
            server.should_exit = True

    app = build_app(
        spec, store=store, on_load_error=stop, unix_socket=uds, grace=graceful_timeout, freeze_after_load=True
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="on",
        log_level=log_level,
        log_config=log_config,
        access_log=access_log,
        timeout_keep_alive=30,  # longer than the client's keep-alive expiry (15 s): no reuse-while-closing race
        timeout_graceful_shutdown=math.ceil(graceful_timeout),
        server_header=False,
    )
    server = _Server(config, app.state.host)
    server.run()
    if failed:
        logger.error("runner %s stopped: its model did not load", spec.name)
        return EXIT_LOAD_FAILED
    return 0 if server.started else 1


if __name__ == "__main__":  # python -m runners.sidecar.server --model TAG [--port N ...], as python -m runners serve
    import sys

    from runners.__main__ import main

    sys.exit(main(["serve", *sys.argv[1:]]))
