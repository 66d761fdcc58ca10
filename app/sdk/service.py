"""``Service``: the 1.0-style SDK object users build a service with.

    svc = Service("iris_classifier", runners=[runner], models=["iris_clf:latest"])

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray())
    def classify(x, ctx: Context): ...

    @svc.on_startup
    def connect(ctx): ...

It only records what the user declares; ``app.server.application`` turns it into the ASGI app.
``models`` are stored models the service depends on (tags, or the models ``save_model``/``get``
return); ``resolve_models`` finds each in the model store when the service is loaded, so a
missing one stops the start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from app.io.base import IODescriptor
from app.sdk.hooks import Hook, HookKind
from app.sdk.inference import InferenceAPI, normalize_route
from runners.resources import Resources

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from runners import Runner
    from runners.models import StoredModel

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class InvalidServiceArgument(TypeError, AssertionError):
    """A ``Service(...)`` argument of the wrong kind. Also an ``AssertionError``: BentoML asserts
    these, and code written against it catches that."""


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
    def __init__(
        self, name: str, runners: Sequence[Runner] | None = None, *, models: Sequence[Any] | None = None
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid service name {name!r}: use letters, digits, '_', '-' and '.'")
        self.name = name
        self.runners: list[Runner] = [_checked_runner(r) for r in runners or []]
        self.models: list[Any] = [_checked_model(m) for m in models or []]
        """As given until ``resolve_models``; then the ``StoredModel`` of each."""
        self.apis: list[InferenceAPI] = []
        self.middlewares: list[tuple[Any, dict[str, Any]]] = []
        self.mounts: list[MountSpec] = []
        self.traffic = Traffic()
        self.resources = Resources()  # what one API worker may use (class style: ``@service(resources=)``)
        self.hooks: dict[HookKind, list[Hook]] = {"on_deployment": [], "on_startup": [], "on_shutdown": []}
        self.state: dict[str, Any] = {}
        """``ctx.state``: one dict per worker process, shared by the hooks and every request."""
        names = [r.name for r in self.runners]
        if len(set(names)) != len(names):
            raise ValueError(f"service {name!r} has two runners with one name: {names}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __str__(self) -> str:
        runners = ",".join(r.name for r in self.runners)
        return f'{type(self).__name__}(name="{self.name}", runners=[{runners}])'

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
            api_name = name or func.__name__
            self.add_api(
                InferenceAPI(
                    name=api_name,
                    func=func,
                    input=input,
                    output=output,
                    route=api_name if route is None else route,
                    doc=doc,
                )
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
        _checked_runner(runner)
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

        wrapped = cast("ASGIApp", WSGIMiddleware(app))  # a2wsgi types its ASGI side more narrowly
        self.mounts.append(MountSpec(mount_prefix(path), wrapped, app, name, "wsgi"))

    # -- lifecycle hooks -----------------------------------------------------------------------

    def on_deployment(self, func: F) -> F:
        """Run ``func()`` once per start, before any worker: in the gunicorn master or ``tiffin serve``."""
        self.add_hook(Hook.make("on_deployment", func))
        return func

    def on_startup(self, func: F) -> F:
        """Run ``func(ctx)`` in every worker before it serves (sync or async); ``ctx.state`` is shared."""
        self.add_hook(Hook.make("on_startup", func))
        return func

    def on_shutdown(self, func: F) -> F:
        """Run ``func(ctx)`` in every worker after it stops serving."""
        self.add_hook(Hook.make("on_shutdown", func))
        return func

    def add_hook(self, hook: Hook) -> None:
        self.hooks[hook.kind].append(hook)

    # -- serving -------------------------------------------------------------------------------

    def resolve_models(self, store: Any = None) -> list[StoredModel]:
        """Find every declared model in the model store (``LookupError`` naming the first missing one)."""
        from runners import models as stored
        from runners.store.model_store import StoreError

        resolved = []
        for model in self.models:
            tag = getattr(model, "tag", model)
            try:
                resolved.append(stored.get(str(tag), store=store))
            except StoreError as exc:
                raise LookupError(f"service {self.name!r} declares model {str(tag)!r}: {exc}") from None
        self.models = list(resolved)
        return resolved

    def instance(self) -> Any:
        """What ``get_current_service()`` returns while this service runs."""
        return self

    def to_asgi(self, config: Any = None) -> ASGIApp:
        """The ASGI app serving this service (``config``: a ``TiffinConfig``, else defaults)."""
        from app.server.application import build_app

        if self.models:
            self.resolve_models()
        return build_app(self, config)


def _checked_runner(runner: Any) -> Runner:
    from runners import Runner

    if not isinstance(runner, Runner):
        raise InvalidServiceArgument(
            f"Service runners list can only contain runners.Runner instances, not {type(runner).__name__}"
        )
    return runner


def _checked_model(model: Any) -> Any:
    from runners import Tag
    from runners.models import StoredModel

    if isinstance(model, str):
        Tag.parse(model)  # a malformed tag fails here, where it is written
        return model
    if isinstance(model, (Tag, StoredModel)):
        return model
    raise InvalidServiceArgument(
        "Service models list can only contain model tags (\"name:version\") or stored models, "
        f"not {type(model).__name__}"
    )


__all__ = ["InvalidServiceArgument", "MountSpec", "Service", "Traffic", "mount_prefix", "normalize_route"]
