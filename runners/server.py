"""The runner sidecar: one process, one model copy, served over HTTP (see ``runners.protocol``).

    build_app(spec) -> ASGI app    # for tests and embedding
    serve(spec, host, port)        # what ``tiffin runner NAME`` runs; returns an exit code

``/livez`` answers from the first moment; the model loads in the background after startup and
``/readyz`` turns 200 when it is loaded, and 503 again from SIGTERM on (``serve`` marks the host
draining before uvicorn starts its graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import math
import time
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

from runners import protocol
from runners.errors import InvalidInput, RunnerError
from runners.host import ModelHost
from runners.metrics import RunnerMetrics
from runners.spec import RunnerSpec
from runners.store import ModelStore

logger = logging.getLogger("runners.server")

EXIT_LOAD_FAILED = 3


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=protocol.JSON, headers=headers)


def error_response(err: RunnerError) -> Response:
    headers = {"Retry-After": str(max(1, math.ceil(err.retry_after)))} if err.retry_after is not None else None
    return _json(err.to_dict(), err.status_code, headers)


def _deadline(request: Request) -> float | None:
    raw = request.headers.get(protocol.DEADLINE_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{protocol.DEADLINE_HEADER} must be seconds since the epoch.", detail=raw) from None
    if not math.isfinite(value):
        raise InvalidInput(f"{protocol.DEADLINE_HEADER} must be a finite number.", detail=raw)
    return value


def _accepted(request: Request, media: str) -> set[str]:
    accept = {protocol.media_type(part) for part in request.headers.get("accept", "").split(",")}
    accept.add(media)
    return accept


def build_app(
    spec: RunnerSpec,
    *,
    registry: CollectorRegistry | None = None,
    store: ModelStore | None = None,
    on_load_error: Callable[[BaseException], None] | None = None,
) -> Starlette:
    registry = registry if registry is not None else CollectorRegistry()
    host = ModelHost(spec, metrics=RunnerMetrics(registry), store=store)

    async def call(request: Request) -> Response:
        started = time.perf_counter()
        method = request.path_params["method"]
        try:
            deadline = _deadline(request)
            media = protocol.media_type(request.headers.get("content-type"))
            value = protocol.decode(await request.body(), media)
            result = await host.call(method, value, deadline)
            try:
                payload, out_media = protocol.encode(result, _accepted(request, media))
            except (TypeError, ValueError) as exc:
                raise RunnerError("The method's result could not be encoded.", detail=str(exc)) from None
            response = Response(payload, media_type=out_media)
        except RunnerError as err:
            response = error_response(err)
        observer = host.method_metrics(method)
        if observer is not None:
            observer.request(response.status_code, time.perf_counter() - started)
        return response

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

        loading = asyncio.create_task(host.load())
        loading.add_done_callback(loaded)
        try:
            yield
        finally:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await host.close()

    app = Starlette(
        routes=[
            Route("/livez", livez, methods=["GET"]),
            Route("/healthz", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/info", info, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/{method}", call, methods=["POST"]),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
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

    app = build_app(spec, store=store, on_load_error=stop)
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


if __name__ == "__main__":  # python -m runners.server --model TAG [--port N ...], as python -m runners serve
    import sys

    from runners.__main__ import main

    sys.exit(main(["serve", *sys.argv[1:]]))
