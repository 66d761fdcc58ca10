"""Build the ASGI app for a service: routes, mounts, lifespan and the middleware stack.

Request path, outermost first:

    RequestId → [Tracing] → Observe (metrics, access log) → Errors → ConcurrencyLimit → Timeout
    → BodyLimit → CORS → user middlewares (first added outermost) → router

Tracing is in the stack only when ``tracing.enabled``; its SDK starts in the lifespan, once per
worker process (after gunicorn's fork), and is flushed when the lifespan ends.

The router tries the infrastructure routes, then the APIs, then the mounts (longest prefix
first), so a mount at ``/`` hides none of the service's own routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio.to_thread
import orjson
from prometheus_client import CollectorRegistry
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.concurrency_limit import ConcurrencyLimitMiddleware
from app.middleware.exception_guard import ErrorMiddleware
from app.middleware.observe import ObserveMiddleware
from app.middleware.request_id import RequestIdMiddleware
from app.middleware.timeout import TimeoutMiddleware
from app.middleware.tracing import TracingMiddleware
from app.process.shared_slots import LocalSlots, Slots, shared
from app.sdk import context
from app.sdk.fastapi_binding import guard_validation_errors
from app.sdk.hooks import HookFailed, run_hooks
from app.sdk.inference import InferenceAPI
from app.sdk.service import Service
from app.server.access_log import AccessLog
from app.server.health import Readiness, readyz
from app.server.http_errors import MethodNotAllowed, NotFound, error_response
from app.server.http_metrics import CONTENT_TYPE_LATEST, HttpMetrics, exposition
from app.server.mount_lifespans import mounted_lifespans
from app.server.openapi import build_openapi
from app.server.route_templates import TemplateResolver, route_path
from app.server.settings import Settings, settings_for
from app.server.stream_response import StreamingAPIResponse, TracedStream
from app.server.swagger import swagger_routes
from runners import tracing
from runners.wire.probes import LIVE_BODY, LIVENESS_PATHS, METRICS_PATH, READINESS_PATH

Endpoint = Callable[[Request], Awaitable[Response]]

logger = logging.getLogger("tiffin.lifespan")


def _route(path: str, methods: frozenset[str], endpoint: Endpoint, name: str) -> Route:
    route = Route(path, _only(methods, endpoint), name=name)
    route.methods = None  # match every method, so no mount can take the path; 405 comes from _only
    return route


def _only(methods: frozenset[str], endpoint: Endpoint) -> Endpoint:
    """Accept every method at the route, so no mount can take it, and answer 405 to the rest."""
    allow = ", ".join(sorted(methods))

    async def guarded(request: Request) -> Response:
        if request.method not in methods:
            raise MethodNotAllowed(detail={"allow": sorted(methods)}, headers={"Allow": allow})
        return await endpoint(request)

    return guarded


def _mount(path: str, app: ASGIApp, name: str | None) -> Mount:
    """A Starlette ``Mount`` whose pattern also takes paths with a newline in them (``%0A``).

    Starlette's ``{path:path}`` is ``.*`` without DOTALL, so ``/v1/echo/a%0Ab`` found no route
    (404) although the mounted app's ``/echo/{word}`` takes any word."""
    mount = Mount(path, app=app, name=name)
    mount.path_regex = re.compile(mount.path_regex.pattern, mount.path_regex.flags | re.DOTALL)
    return mount


_GET = frozenset({"GET", "HEAD"})
_POST = frozenset({"POST"})


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(NotFound(detail={"path": scope.get("path")}))(scope, receive, send)


class ServiceApp:
    """The running form of a ``Service`` in one process."""

    def __init__(
        self,
        service: Service,
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        slots: Slots | None = None,
        on_start_failure: Callable[[str], None] | None = None,
        span_exporter: Any = None,
    ) -> None:
        self.service = service
        self._span_exporter = span_exporter  # in place of the configured one (tests)
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.readiness = Readiness(service.runners)
        self.hook_context = context.Context(service.state)
        self._on_start_failure = on_start_failure
        self._openapi: bytes | None = None
        metrics = (
            HttpMetrics(
                service.name,
                registry=self.registry,
                namespace=settings.metrics_namespace,
                buckets=settings.duration_buckets,
            )
            if settings.metrics_enabled
            else None
        )
        own = self._own_routes()
        # The service's own routes with a fixed path are found by one dict lookup; what the router
        # would do for them (try each route's pattern in turn) costs more than the lookup, per request.
        self._fixed = {r.path: r for r in own if isinstance(r, Route) and r.methods is None and "{" not in r.path}
        mounts = sorted(service.mounts, key=lambda m: len(m.path), reverse=True)
        for m in mounts:
            guard_validation_errors(m.original)
        mount_routes = [(_mount(m.path, m.app, m.name), m.original) for m in mounts]
        self.router = Router(routes=[*own, *(r for r, _ in mount_routes)], default=_not_found, redirect_slashes=False)
        self.app = self._stack(
            self._with_service,
            templates=TemplateResolver(own, mount_routes),
            metrics=metrics,
            slots=slots or shared() or LocalSlots(),
        )

    # -- routes -------------------------------------------------------------------------------

    def _own_routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            *(_route(path, _GET, self._livez, path[1:]) for path in LIVENESS_PATHS),
            _route(READINESS_PATH, _GET, self._readyz, "readyz"),
            _route(METRICS_PATH, _GET, self._metrics, "metrics"),
            _route("/docs.json", _GET, self._docs, "docs"),
        ]
        for api in self.service.apis:
            routes.append(_route(api.route, _POST, self._api_endpoint(api), api.name))
        routes.extend(swagger_routes(docs_url="/docs.json"))
        return routes

    def _api_endpoint(self, api: InferenceAPI) -> Endpoint:
        service = self.service
        name = f"api {api.name}"

        async def endpoint(request: Request) -> Response:
            if not tracing.is_on():
                response: Response = await api.handle(request, service.instance(), service.state)
                return response
            span = tracing.start(name, attributes={"tiffin.api": api.name})
            with tracing.use(span):
                try:
                    response = await api.handle(request, service.instance(), service.state)
                except BaseException as exc:
                    tracing.end(span, error=type(exc).__name__)
                    raise
            if isinstance(response, StreamingAPIResponse):
                return TracedStream(response, span)  # the span lasts as long as the stream
            tracing.end(span)
            return response

        return endpoint

    async def _livez(self, request: Request) -> Response:
        return Response(LIVE_BODY, media_type="application/json")

    async def _readyz(self, request: Request) -> Response:
        return await readyz(self.readiness)

    async def _metrics(self, request: Request) -> Response:
        body = await anyio.to_thread.run_sync(exposition, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def _docs(self, request: Request) -> Response:
        if self._openapi is None:
            doc = build_openapi(
                title=self.service.name, version="1.0.0", apis=self.service.apis, mounts=self.service.mounts
            )
            root = self.settings.root_path or request.scope.get("root_path", "")
            if root:
                doc["servers"] = [{"url": root}]
            self._openapi = orjson.dumps(doc)
        return Response(self._openapi, media_type="application/json")

    # -- lifespan -----------------------------------------------------------------------------

    async def _lifespan_protocol(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI lifespan, with a start failure reported in one line (its traceback is logged)."""
        await receive()  # lifespan.startup
        running = contextlib.AsyncExitStack()
        try:
            await running.enter_async_context(self._lifespan())
        except Exception as exc:
            if not isinstance(exc, HookFailed):
                logger.error("the service failed to start", exc_info=exc)
            line = str(exc) if isinstance(exc, HookFailed) else f"starting failed: {type(exc).__name__}: {exc}"
            line = " ".join(line.split())
            if self._on_start_failure is not None:
                self._on_start_failure(line)
            await send({"type": "lifespan.startup.failed", "message": line})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await running.aclose()
        except Exception as exc:
            logger.error("the service failed to stop cleanly", exc_info=exc)
            await send({"type": "lifespan.shutdown.failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        instance = self.service.instance()
        context.set_process_service(instance)
        traced = tracing.install(self.settings.tracing, self.service.name, exporter=self._span_exporter)
        await asyncio.gather(*(r.startup() for r in self.service.runners))
        asgi_mounts = [(m.name or m.path or "/", m.app) for m in self.service.mounts if m.kind == "asgi"]
        hooks = self.service.hooks
        started = False
        try:
            await run_hooks(hooks["on_startup"], instance, self.hook_context, strict=True)
            started = True
            async with mounted_lifespans(asgi_mounts):
                self.readiness.started = True
                self.readiness.install_signal_hooks()
                yield
        finally:
            self.readiness.start_draining()
            if started:
                await run_hooks(hooks["on_shutdown"], instance, self.hook_context, strict=False)
            await asyncio.gather(*(r.shutdown() for r in self.service.runners), return_exceptions=True)
            if traced:
                await anyio.to_thread.run_sync(tracing.shutdown)  # flushes the spans still queued

    # -- stack --------------------------------------------------------------------------------

    async def _with_service(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan_protocol(scope, receive, send)
            return
        if not self.readiness.started and scope["type"] == "http":
            self.readiness.started = True  # served without a lifespan (plain TestClient)
        token = context.enter_service(self.service.instance())
        try:
            route = self._fixed.get(route_path(scope)) if scope["type"] == "http" else None
            if route is None:
                await self.router(scope, receive, send)
            else:  # as the router does on a full match; these routes take every method (see _route)
                scope.setdefault("router", self.router)
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = dict(scope.get("path_params", {}))
                await route.handle(scope, receive, send)
        finally:
            context.leave_service(token)

    def _stack(
        self, inner: ASGIApp, *, templates: TemplateResolver, metrics: HttpMetrics | None, slots: Slots
    ) -> ASGIApp:
        s = self.settings
        app = inner
        for cls, options in reversed(self.service.middlewares):
            app = cls(app, **options)
        if s.cors is not None:
            app = CORSMiddleware(app, **s.cors)
        app = BodyLimitMiddleware(app, max_bytes=s.max_request_size)
        app = TimeoutMiddleware(app, seconds=s.timeout, idle=s.stream_idle_timeout)
        if s.max_concurrency:
            app = ConcurrencyLimitMiddleware(app, limit=s.max_concurrency, slots=slots)
        app = ErrorMiddleware(app)
        app = ObserveMiddleware(app, templates=templates, metrics=metrics, access=AccessLog(**s.access))
        if s.tracing.enabled:
            app = TracingMiddleware(app, templates=templates)
        return RequestIdMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = self.settings.root_path
        if root and scope["type"] in ("http", "websocket"):
            # As uvicorn's --root-path does: a gateway may strip the prefix or pass it on.
            scope = dict(scope)
            scope["root_path"] = root
            if not scope["path"].startswith(root + "/") and scope["path"] != root:
                scope["path"] = root + scope["path"]
        await self.app(scope, receive, send)


def build_app(service: Service, config: Any = None, **kwargs: Any) -> ServiceApp:
    return ServiceApp(service, settings_for(service, config), **kwargs)
