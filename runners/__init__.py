"""tiffin runners: the model store, ``Runnable``, adaptive batching, the runner sidecar and its client.

This package never imports ``app``. The public names are below; everything else lives in its
own module (``runners.store.model_store``, ``runners.sidecar.server``, ``runners.client.runner_client`` ...).
The names load on first use: ``tiffin serve`` reads runner specs (``runners.spec``) before it
starts the runner workers, and importing the client (numpy, asyncio) would delay every start.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from runners import models, sklearn
    from runners.errors import DeadlineExceeded, InvalidInput, RunnerError, RunnerOverloaded, RunnerUnavailable
    from runners.runnable import Runnable, method
    from runners.runner import Runner
    from runners.store.tag import Tag

__all__ = [
    "DeadlineExceeded",
    "InvalidInput",
    "Runnable",
    "Runner",
    "RunnerError",
    "RunnerOverloaded",
    "RunnerUnavailable",
    "Tag",
    "method",
    "models",
    "sklearn",
]

_HOMES = {
    "DeadlineExceeded": "runners.errors",
    "InvalidInput": "runners.errors",
    "RunnerError": "runners.errors",
    "RunnerOverloaded": "runners.errors",
    "RunnerUnavailable": "runners.errors",
    "Runnable": "runners.runnable",
    "method": "runners.runnable",
    "Runner": "runners.runner",
    "Tag": "runners.store.tag",
}


def __getattr__(name: str) -> _typing.Any:
    if name in ("models", "sklearn"):
        value: _typing.Any = _importlib.import_module(f"runners.{name}")
    elif name in _HOMES:
        value = getattr(_importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'runners' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
