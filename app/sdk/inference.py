"""An inference API: a function between an input and an output descriptor, served by POST."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor
from app.server.stream_response import is_stream_function, open_stream


def normalize_route(route: str | None, name: str) -> str:
    route = (route if route is not None else name).strip()
    return "/" + route.lstrip("/")


@dataclass(eq=False)
class InferenceAPI:
    name: str
    func: Callable[..., Any]
    input: IODescriptor
    output: IODescriptor
    route: str
    doc: str | None = None
    kwargs_input: bool = False
    """The input decodes to keyword arguments (class-style ``@api`` with annotated parameters)."""
    is_method: bool = False
    """``func`` is a method of the service class, called on the live instance."""
    is_async: bool = field(init=False)
    is_stream: bool = field(init=False)
    """``func`` is a generator (sync or async): its chunks are streamed (``app.server.stream_response``)."""

    def __post_init__(self) -> None:
        self.route = normalize_route(self.route, self.name)
        self.is_async = inspect.iscoroutinefunction(self.func)
        self.is_stream = is_stream_function(self.func)
        if self.doc is None:
            self.doc = inspect.getdoc(self.func)

    async def __call__(self, value: Any, instance: Any = None) -> Any:
        func = self.func.__get__(instance) if self.is_method else self.func
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if self.kwargs_input:
            kwargs = value
        else:
            args = (value,)
        if self.is_async:
            return await func(*args, **kwargs)
        call = functools.partial(func, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)

    async def handle(self, request: Request, instance: Any = None) -> Response:
        value = await self.input.from_request(request)
        if self.is_stream:  # calling a generator function runs none of its code: the stream does
            func = self.func.__get__(instance) if self.is_method else self.func
            gen = func(**value) if self.kwargs_input else func(value)
            return await open_stream(gen, self.output, request)
        result = await self(value, instance)
        return self.output.to_response(result, accept=request.headers.get("accept"))
