"""The class-style SDK: ``@service`` on a class, ``@api`` methods, ``@mount_asgi_app``, hooks.

    @service(traffic={"timeout": 10})
    @mount_asgi_app(fastapi_app, path="/v1")
    class Summarization:
        @on_deployment
        def fetch():  ...                       # no self: runs before any instance exists

        @on_startup
        async def warm(self, ctx: Context): ...  # each worker, on the live instance

        @api
        def summarize(self, text: str = "...", ctx: Context = None) -> str: ...

The class is instantiated once per worker process, in the app's lifespan. ``@api`` methods
take their annotated parameters as the fields of a JSON body (a context parameter is not one)
and answer by their return annotation. FastAPI routes declared in the class body get ``self``
bound to that instance.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any, TypeVar, overload

from app.io.annotations import JSONBody, descriptor_for_annotation, json_body_model
from app.io.base import IODescriptor
from app.sdk.fastapi_binding import bind_class_routes
from app.sdk.hooks import Hook, HookKind
from app.sdk.inference import InferenceAPI
from app.sdk.service import MountSpec, Service, Traffic, mount_prefix
from app.sdk.signatures import context_parameters
from app.server.stream_response import is_stream_function
from runners.resources import Resources

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

_API_MARK = "__tiffin_api__"
_HOOK_MARK = "__tiffin_hook__"
_MOUNTS_MARK = "__tiffin_mounts__"


class ClassService(Service):
    def __init__(
        self,
        inner: type,
        *,
        name: str | None = None,
        traffic: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name or inner.__name__)
        self.inner = inner
        self.resources = Resources.parse(resources)
        self.traffic = _traffic(traffic)
        self._instance: Any = None
        self._lock = threading.Lock()
        for attr, value in vars(inner).items():
            options = getattr(value, _API_MARK, None)
            if options is not None:
                self.add_api(_method_api(attr, value, options))
            marked = value.__func__ if isinstance(value, staticmethod) else value
            kind: HookKind | None = getattr(marked, _HOOK_MARK, None)
            if kind is not None:
                self.add_hook(Hook.make(kind, value, is_method=kind != "on_deployment"))
        for spec in reversed(inner.__dict__.get(_MOUNTS_MARK, [])):
            self.mounts.append(spec)
            bind_class_routes(spec.original, inner, self.instance)

    def instance(self) -> Any:
        """The one live instance of the class in this process, made on first use."""
        if self._instance is None:
            with self._lock:
                if self._instance is None:
                    self._instance = self.inner()
        return self._instance

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner(*args, **kwargs)


def _traffic(traffic: Mapping[str, Any] | None) -> Traffic:
    traffic = dict(traffic or {})
    unknown = set(traffic) - {"timeout", "max_concurrency"}
    if unknown:
        raise TypeError(f"unknown traffic options: {sorted(unknown)} (known: timeout, max_concurrency)")
    return Traffic(timeout=traffic.get("timeout"), max_concurrency=traffic.get("max_concurrency"))


def yielded(returns: Any) -> Any:
    """What a generator annotated ``Iterator[str]``, ``AsyncGenerator[dict, None]``, ... yields."""
    args = typing.get_args(returns)
    origin = typing.get_origin(returns)
    streams = (Iterator, Iterable, Generator, AsyncIterator, AsyncIterable, AsyncGenerator)
    return args[0] if origin in streams and args else Any


def _method_api(attr: str, func: Callable[..., Any], options: dict[str, Any]) -> InferenceAPI:
    input_desc: IODescriptor | None = options.get("input")
    output_desc: IODescriptor | None = options.get("output")
    if output_desc is None:
        hints = typing.get_type_hints(func, include_extras=True)
        returns = hints.get("return", Any)
        output_desc = descriptor_for_annotation(yielded(returns) if is_stream_function(func) else returns)
    name = options.get("name") or attr
    route = options.get("route")
    return InferenceAPI(
        name=name,
        func=func,
        input=input_desc if input_desc is not None else JSONBody(json_body_model(func, skip=context_parameters(func))),
        output=output_desc,
        route=name if route is None else str(route),
        doc=options.get("doc"),
        kwargs_input=input_desc is None,
        is_method=True,
    )


@overload
def service(inner: C, /) -> ClassService: ...
@overload
def service(
    inner: None = None,
    /,
    *,
    name: str | None = None,
    traffic: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
) -> Callable[[type], ClassService]: ...


def service(
    inner: type | None = None,
    /,
    *,
    name: str | None = None,
    traffic: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
) -> ClassService | Callable[[type], ClassService]:
    """Make a class a service; usable bare (``@service``) or with options."""

    def decorate(cls: type) -> ClassService:
        if not isinstance(cls, type):
            raise TypeError("@service decorates a class")
        return ClassService(cls, name=name, traffic=traffic, resources=resources)

    return decorate(inner) if inner is not None else decorate


@overload
def api(func: F, /) -> F: ...
@overload
def api(
    func: None = None,
    /,
    *,
    route: str | None = None,
    name: str | None = None,
    doc: str | None = None,
    input: IODescriptor | None = None,
    output: IODescriptor | None = None,
) -> Callable[[F], F]: ...


def api(
    func: F | None = None,
    /,
    *,
    route: str | None = None,
    name: str | None = None,
    doc: str | None = None,
    input: IODescriptor | None = None,
    output: IODescriptor | None = None,
) -> F | Callable[[F], F]:
    """Mark a method of an ``@service`` class as an inference API (``POST /<name>``)."""
    options = {"route": route, "name": name, "doc": doc, "input": input, "output": output}

    def mark(f: F) -> F:
        setattr(f, _API_MARK, options)
        return f

    return mark(func) if func is not None else mark


def _hook_marker(kind: HookKind) -> Callable[[F], F]:
    def mark(func: F) -> F:
        target = func.__func__ if isinstance(func, staticmethod) else func
        if not callable(target):
            raise TypeError(f"@{kind} decorates a function, not a {type(func).__name__}")
        setattr(target, _HOOK_MARK, kind)
        return func

    mark.__name__ = mark.__qualname__ = kind
    mark.__doc__ = f"Mark a function of an ``@service`` class as an ``{kind}`` hook (see ``app.sdk.hooks``)."
    return mark


on_deployment = _hook_marker("on_deployment")
on_startup = _hook_marker("on_startup")
on_shutdown = _hook_marker("on_shutdown")


def mount_asgi_app(app: Any, path: str = "/", name: str | None = None) -> Callable[[Any], Any]:
    """Serve ``app`` under ``path`` beside the service; decorates the class or the service."""

    def decorate(target: Any) -> Any:
        if isinstance(target, Service):
            target.mount_asgi_app(app, path=path, name=name)
            if isinstance(target, ClassService):
                bind_class_routes(app, target.inner, target.instance)
            return target
        if not isinstance(target, type):
            raise TypeError("@mount_asgi_app decorates a class or a service")
        mounts = target.__dict__.get(_MOUNTS_MARK)
        if mounts is None:
            mounts = []
            setattr(target, _MOUNTS_MARK, mounts)
        mounts.append(MountSpec(mount_prefix(path), app, app, name, "asgi"))
        return target

    return decorate
