"""FastAPI routes declared inside an ``@service`` class body, bound to the live instance.

``@app.get("/hello")`` on ``def hello(self)`` registers a function whose first parameter
FastAPI would take for a query parameter. We swap each such route for one whose endpoint has
no ``self`` and calls the method on the service instance of the running process.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any


def bind_class_routes(app: Any, cls: type, instance: Callable[[], Any]) -> None:
    try:
        from fastapi.routing import APIRoute
    except ImportError:
        return
    routes = getattr(getattr(app, "router", None), "routes", None)
    if not isinstance(routes, list):
        return
    funcs = {id(v): v for v in vars(cls).values() if inspect.isfunction(v)}
    for index, route in enumerate(routes):
        if isinstance(route, APIRoute) and id(route.endpoint) in funcs:
            routes[index] = _rebuilt(route, _instance_endpoint(route.endpoint, instance))


def _instance_endpoint(func: Callable[..., Any], instance: Callable[[], Any]) -> Callable[..., Any]:
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in list(signature.parameters.values())[1:]]
    endpoint: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        async def endpoint(*args: Any, **kwargs: Any) -> Any:
            return await func(instance(), *args, **kwargs)

    else:

        def endpoint(*args: Any, **kwargs: Any) -> Any:
            return func(instance(), *args, **kwargs)

    typing.cast(Any, endpoint).__signature__ = signature.replace(
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(endpoint, attr, getattr(func, attr))
    return endpoint


def _rebuilt(route: Any, endpoint: Callable[..., Any]) -> Any:
    params = inspect.signature(type(route).__init__).parameters
    kwargs = {
        name: getattr(route, name)
        for name, p in params.items()
        if name not in ("self", "path", "endpoint") and p.kind is p.KEYWORD_ONLY and hasattr(route, name)
    }
    return type(route)(route.path, endpoint, **kwargs)


def guard_validation_errors(app: Any) -> None:
    """Keep a mounted FastAPI app's 422s 422s when the body is binary.

    FastAPI's default handler echoes the body in its answer through ``jsonable_encoder``, which
    decodes bytes as strict UTF-8: a pickle or any binary body sent to a JSON route raises inside
    the handler and the 422 becomes a 500 (fastapi#13111). The default handler, not one the app
    set itself, is replaced by the same answer with the bytes decoded leniently.
    """
    if not type(app).__module__.startswith("fastapi"):
        return  # not a FastAPI app: nothing imported
    from fastapi import FastAPI
    from fastapi.exception_handlers import request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError

    handler = app.exception_handlers.get(RequestValidationError) if isinstance(app, FastAPI) else None
    if handler is request_validation_exception_handler:
        app.add_exception_handler(RequestValidationError, _validation_error)


async def _validation_error(request: Any, exc: Any) -> Any:
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse

    errors = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")})
    return JSONResponse(status_code=422, content={"detail": errors})
