"""The runner sidecar: one process, one model copy, served over HTTP (see ``runners.sidecar.routes``).

    build_app(spec) -> SidecarApp  # an ASGI app, for tests and embedding
    serve(spec, host, port)        # what ``tiffin runner NAME`` runs; returns an exit code
    serve(spec, host, port, uds="/run/tiffin/iris_clf.sock")   # also on a Unix socket

With ``uds`` the sidecar listens on both: the Unix socket for API workers on the same machine
(``http+unix://`` URLs, served by ``runners.sidecar.unix_server``, a cheaper hop than uvicorn over
loopback TCP) and TCP for everyone else, Prometheus included. Both answer through the same
``Routes``.

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
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry
from starlette.types import Message, Receive, Scope, Send

from runners import tracing
from runners.sidecar.calls import observe
from runners.sidecar.host import ModelHost
from runners.sidecar.routes import Routes, call_name
from runners.sidecar.runner_metrics import RunnerMetrics, cache_process_id
from runners.sidecar.streams import StreamAnswer
from runners.sidecar.unix_server import UnixServer
from runners.spec import RunnerSpec
from runners.store.model_store import ModelStore
from runners.tracing.options import TracingOptions

logger = logging.getLogger("runners.sidecar")

EXIT_LOAD_FAILED = 3


class SidecarApp:
    """The sidecar as a plain ASGI app: HTTP through ``Routes``, and a lifespan that loads the model.

    With ``unix_socket``, the lifespan also serves the same routes on that socket.
    ``listen_after_load`` (a worker of a runner with several): the lifespan's startup waits for
    the model, so the server takes no connection before it can answer calls; while it loads, its
    Unix socket refuses (the API server's balancer steps to another worker at once) and the
    shared port is served by the workers that are ready. A model that fails to load fails the
    startup.
    ``freeze_after_load`` (the sidecar process, not tests) hands what exists once the model is
    loaded to ``gc.freeze()``.
    """

    def __init__(
        self,
        host: ModelHost,
        registry: CollectorRegistry,
        *,
        on_load_error: Callable[[BaseException], None] | None = None,
        unix_socket: str | None = None,
        grace: float = 30.0,
        freeze_after_load: bool = False,
        tracing_options: TracingOptions | None = None,
        listen_after_load: bool = False,
    ) -> None:
        self.host = host
        self._tracing = tracing_options or TracingOptions()
        self.registry = registry
        self.routes = Routes(host, registry)
        self._on_load_error = on_load_error
        self._unix_socket = unix_socket
        self._grace = grace
        self._freeze_after_load = freeze_after_load
        self._listen_after_load = listen_after_load

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        chunks: list[bytes] = []
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":
                return  # the caller went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        method = scope["method"].encode("latin-1")
        path: str = scope["path"]
        answer = await self.routes.respond(method, path, scope["headers"], b"".join(chunks))
        if isinstance(answer, StreamAnswer):
            status = answer.status
            await _send_stream(answer, receive, send)
        else:
            status, headers, body = answer
            headers.append((b"content-length", str(len(body)).encode("latin-1")))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if method == b"HEAD" else body})
        name = call_name(path)
        if method == b"POST" and name is not None:
            observe(self.host, name, status, started)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.lifespan())
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Load the model in the background (and serve the Unix socket) until the context ends."""

        def loaded(task: asyncio.Task[None]) -> None:
            error = None if task.cancelled() else task.exception()  # the host has logged it
            if error is not None and self._on_load_error is not None:
                self._on_load_error(error)
            elif error is None and not task.cancelled() and self._freeze_after_load:
                # Everything loaded so far (the framework, the model) lives as long as the process:
                # out of the collector's sight, a full collection scans only what serving makes,
                # instead of stalling every request in flight for ~60 ms (150k objects, iris SVC).
                gc.freeze()
            if self._freeze_after_load:
                gc.enable()

        traced = tracing.install(self._tracing, self.host.spec.name, role="runner")
        if self._freeze_after_load:
            # Importing a framework makes objects that live for good: collecting meanwhile only
            # delays readiness (some 5% of importing scikit-learn), so the collector waits for the load.
            gc.disable()
        loading = asyncio.create_task(self.host.load())
        loading.add_done_callback(loaded)
        unix: UnixServer | None = None
        try:
            if self._listen_after_load:
                await asyncio.shield(loading)  # a failure propagates: the startup fails
            if self._unix_socket is not None:
                unix = UnixServer(self.routes)
                await unix.start(self._unix_socket)
            yield
        finally:
            if unix is not None:
                await unix.close(self._grace)
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await self.host.close()
            if traced:
                await asyncio.to_thread(tracing.shutdown)  # flushes the spans still queued


async def _send_stream(answer: StreamAnswer, receive: Receive, send: Send) -> None:
    """Each frame as a chunk (uvicorn frames them); the client going away stops it and closes the frames."""
    task = asyncio.current_task()
    gone = False

    async def until_disconnect() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        if task is not None:
            task.cancel()

    watcher = asyncio.create_task(until_disconnect())
    try:
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        async for frame in answer.frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not gone:
            raise
        if task is not None:
            task.uncancel()
    finally:
        watcher.cancel()
        await answer.frames.aclose()


def build_app(
    spec: RunnerSpec,
    *,
    registry: CollectorRegistry | None = None,
    store: ModelStore | None = None,
    on_load_error: Callable[[BaseException], None] | None = None,
    unix_socket: str | None = None,
    grace: float = 30.0,
    freeze_after_load: bool = False,
    tracing_options: TracingOptions | None = None,
) -> SidecarApp:
    registry = registry if registry is not None else CollectorRegistry()
    host = ModelHost(spec, metrics=RunnerMetrics(registry), store=store)
    return SidecarApp(
        host,
        registry,
        on_load_error=on_load_error,
        unix_socket=unix_socket,
        grace=grace,
        freeze_after_load=freeze_after_load,
        tracing_options=tracing_options,
    )


class _Server(uvicorn.Server):
    """Marks the host draining the moment a shutdown signal arrives, before connections drain."""

    def __init__(self, config: uvicorn.Config, host: ModelHost) -> None:
        super().__init__(config)
        self._model_host = host

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._model_host.drain()
        super().handle_exit(sig, frame)

    def run_to_clean_exit(self, sockets: list[socket.socket] | None = None) -> None:
        """``run()``, where a drained stop is a clean exit (0, as gunicorn does).

        Once drained, uvicorn raises the signal again for the handlers it found in place: the
        defaults would kill the process (SIGTERM) or raise KeyboardInterrupt (SIGINT). The ones
        found are these, which ask for a stop (a signal before uvicorn's own handlers are in
        place stops the server once it has started) and return.
        """
        if threading.current_thread() is not threading.main_thread():
            self.run(sockets=sockets)  # signals reach the main thread only: uvicorn installs no handler either
            return
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.run(sockets=sockets)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self._model_host.drain()
        self.should_exit = True


def serve(
    spec: RunnerSpec,
    host: str = "0.0.0.0",  # noqa: S104 - a sidecar in a container listens on all
    port: int = 3001,
    *,
    uds: str | None = None,
    log_level: str = "info",
    access_log: bool = False,
    graceful_timeout: float = 30.0,
    log_config: dict[str, Any] | str | None = uvicorn.config.LOGGING_CONFIG,
    store: ModelStore | None = None,
    tracing_options: TracingOptions | None = None,
    sock: socket.socket | None = None,
    restarted: bool = False,
    listen_after_load: bool = False,
) -> int:
    """Serve ``spec`` until SIGINT/SIGTERM; 0 on a clean stop, ``EXIT_LOAD_FAILED`` if the model fails to load.

    ``log_config=None`` keeps the logging the caller set up (uvicorn's own config otherwise).
    ``sock``: a listening TCP socket to serve instead of binding ``host:port``; the runner
    workers of one runner share the one their supervisor bound. ``restarted``: this process
    replaces a worker that died, and counts it in ``tiffin_runner_restarts_total``.
    ``listen_after_load``: accept connections only once the model is loaded (``SidecarApp``).
    """
    failed: list[BaseException] = []
    server: _Server | None = None

    def stop(exc: BaseException) -> None:
        failed.append(exc)
        if server is not None:
            server.should_exit = True

    cache_process_id()
    registry = CollectorRegistry()
    metrics = RunnerMetrics(registry)
    if restarted:
        metrics.restarts.labels(spec.name).inc()
    app = SidecarApp(
        ModelHost(spec, metrics=metrics, store=store),
        registry,
        on_load_error=stop,
        unix_socket=uds,
        grace=graceful_timeout,
        freeze_after_load=True,
        tracing_options=tracing_options,
        listen_after_load=listen_after_load,
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
    server = _Server(config, app.host)
    server.run_to_clean_exit(sockets=None if sock is None else [sock])
    if failed:
        logger.error("runner %s stopped: its model did not load", spec.name)
        return EXIT_LOAD_FAILED
    return 0 if server.started else 1

