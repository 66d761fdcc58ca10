"""An inference API: a function between an input and an output descriptor, served by POST.

How the function is called, decided once from its signature (``app.sdk.signatures``), so that
a function tiffin cannot call is refused when it is defined:

- the input goes as one positional value, or, for a descriptor whose value is named fields
  (``argument_names``: the class-style JSON body, ``Multipart``), as keyword arguments;
- a ``Context`` goes by keyword to the parameter that asks for it (``ctx_param``), made per
  request; what the function sets on ``ctx.response`` is applied to the answer.
"""

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
from app.sdk.context import Context
from app.sdk.signatures import api_context_param
from app.server.http_errors import BadOutput
from app.server.stream_response import is_stream_function, open_stream


def normalize_route(route: str | None, name: str) -> str:
    route = (route if route is not None else name).strip()
    return "/" + route.lstrip("/")


def argument_names(descriptor: IODescriptor) -> tuple[str, ...] | None:
    """The keyword arguments a descriptor's value is passed as, or ``None`` for one positional value."""
    names = getattr(descriptor, "argument_names", None)
    return tuple(names) if names is not None else None


@dataclass(eq=False)
class InferenceAPI:
    name: str
    func: Callable[..., Any]
    input: IODescriptor
    output: IODescriptor
    route: str
    doc: str | None = None
    kwargs_input: bool = False
    """The input decodes to keyword arguments (set as well for a descriptor with ``argument_names``)."""
    is_method: bool = False
    """``func`` is a method of the service class, called on the live instance."""
    is_async: bool = field(init=False)
    ctx_param: str | None = field(init=False)
    """The parameter that receives the request's ``Context``, if the function asks for one."""
    is_stream: bool = field(init=False)
    """``func`` is a generator (sync or async): its chunks are streamed (``app.server.stream_response``)."""

    def __post_init__(self) -> None:
        self.route = normalize_route(self.route, self.name)
        self.is_async = inspect.iscoroutinefunction(self.func)
        self.kwargs_input = self.kwargs_input or self.input.as_kwargs
        self.is_stream = is_stream_function(self.func)
        if self.doc is None:
            self.doc = inspect.getdoc(self.func)
        names = argument_names(self.input)
        if names is not None:
            self.kwargs_input = True
        self.ctx_param = api_context_param(
            self.func,
            api=self.name,
            arguments=(names or ()) if self.kwargs_input else None,
            is_method=self.is_method,
            names_known=names is not None,
        )

    def _bound(self, value: Any, instance: Any, context: Context | None) -> Callable[[], Any]:
        """The function with its arguments: the decoded input (positional, or as keywords) and the context."""
        func = self.func.__get__(instance) if self.is_method else self.func
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if self.kwargs_input:
            kwargs = dict(value)
        else:
            args = (value,)
        if self.ctx_param is not None:
            kwargs[self.ctx_param] = context if context is not None else Context({})
        return functools.partial(func, *args, **kwargs)

    async def __call__(self, value: Any, instance: Any = None, context: Context | None = None) -> Any:
        call = self._bound(value, instance, context)
        if self.is_async:
            return await call()
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)

    async def handle(self, request: Request, instance: Any = None, state: dict[str, Any] | None = None) -> Response:
        value = await self.input.from_request(request)
        context = Context(state if state is not None else {}, request) if self.ctx_param is not None else None
        if self.is_stream:  # calling a generator function runs none of its code: the stream does
            response: Response = await open_stream(self._bound(value, instance, context)(), self.output, request)
        else:
            result = await self(value, instance, context)
            try:
                response = self.output.to_response(result, accept=request.headers.get("accept"))
            except BadOutput as exc:
                raise exc.naming(self.name) from exc
        return context.response.apply(response) if context is not None else response
