"""``Service``: the 1.0-style SDK object users build a service with.

    svc = Service("iris_classifier", runners=[runner])

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray())
    def classify(x): ...

It only records what the user declares; ``app.server.application`` turns it into the ASGI app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from app.io.base import IODescriptor
from app.sdk.inference import InferenceAPI, normalize_route
from runners.resources import Resources

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from runners import Runner

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class MountSpec:
    path: str
    """The prefix: ``""`` for the root, else ``/x`` with no trailing slash."""
    app: ASGIApp
    """What is served: the ASGI app, or the WSGI app wrapped by a2wsgi."""
    original: Any
    """What the user mounted (a Flask app before wrapping), for route templates and docs."""
    name: str | None = None
    kind: Literal["asgi", "wsgi"] = "asgi"


@dataclass(frozen=True)
class Traffic:
    timeout: float | None = None
    max_concurrency: int | None = None


def mount_prefix(path: str) -> str:
    if not path.startswith("/"):
        path = "/" + path
    return path.rstrip("/")


class Service:
    def __init__(self, name: str, runners: Sequence[Runner] | None = None) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid service name {name!r}: use letters, digits, '_', '-' and '.'")
        self.name = name
        self.runners: list[Runner] = list(runners or [])
        self.apis: list[InferenceAPI] = []
        self.middlewares: list[tuple[Any, dict[str, Any]]] = []
        self.mounts: list[MountSpec] = []
        self.traffic = Traffic()
        self.resources = Resources()  # what one API worker may use (class style: ``@service(resources=)``)
        names = [r.name for r in self.runners]
        if len(set(names)) != len(names):
            raise ValueError(f"service {name!r} has two runners with one name: {names}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- declaring -----------------------------------------------------------------------------

    def api(
        self,
        input: IODescriptor | None = None,
        output: IODescriptor | None = None,
        *,
        name: str | None = None,
        doc: str | None = None,
        route: str | None = None,
    ) -> Callable[[F], F]:
        if input is None or output is None:
            raise TypeError("Service.api needs input= and output= descriptors (from app.io)")

        def decorator(func: F) -> F:
            self.add_api(
                InferenceAPI(name=name or func.__name__, func=func, input=input, output=output, route=route, doc=doc)
            )
            return func

        return decorator

    def add_api(self, api: InferenceAPI) -> None:
        for other in self.apis:
            if other.name == api.name:
                raise ValueError(f"service {self.name!r} already has an API named {api.name!r}")
            if other.route == api.route:
                raise ValueError(f"APIs {other.name!r} and {api.name!r} both use route {api.route!r}")
        self.apis.append(api)

    def add_runner(self, runner: Runner) -> None:
        if any(r.name == runner.name for r in self.runners):
            raise ValueError(f"service {self.name!r} already has a runner named {runner.name!r}")
        self.runners.append(runner)

    def runner(self, name: str) -> Runner | None:
        return next((r for r in self.runners if r.name == name), None)

    def add_asgi_middleware(self, middleware_cls: Any, **options: Any) -> None:
        """Wrap every route (APIs, mounts, infrastructure); the first added is the outermost."""
        self.middlewares.append((middleware_cls, options))

    def mount_asgi_app(self, app: ASGIApp, path: str = "/", name: str | None = None) -> None:
        self.mounts.append(MountSpec(mount_prefix(path), app, app, name, "asgi"))

    def mount_wsgi_app(self, app: Any, path: str = "/", name: str | None = None) -> None:
        from a2wsgi import WSGIMiddleware

        self.mounts.append(MountSpec(mount_prefix(path), WSGIMiddleware(app), app, name, "wsgi"))

    # -- serving -------------------------------------------------------------------------------

    def instance(self) -> Any:
        """What ``get_current_service()`` returns while this service runs."""
        return self

    def to_asgi(self, config: Any = None) -> ASGIApp:
        """The ASGI app serving this service (``config``: a ``TiffinConfig``, else defaults)."""
        from app.server.application import build_app

        return build_app(self, config)


__all__ = ["MountSpec", "Service", "Traffic", "mount_prefix", "normalize_route"]
