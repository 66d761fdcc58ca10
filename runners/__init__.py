"""tiffin runners: the model store, ``Runnable``, adaptive batching, the runner sidecar and its client.

This package never imports ``app``. The public names are below; everything else lives in its
own module (``runners.store.model_store``, ``runners.sidecar.server``, ``runners.client.runner_client`` ...).
The names load on first use: ``tiffin serve`` reads runner specs (``runners.spec``) before it
starts the runner workers, and importing the client (numpy, asyncio) would delay every start.
The framework modules (``runners.sklearn``, ``runners.xgboost``, ``runners.lightgbm``,
``runners.onnx``, ``runners.pytorch``, ``runners.transformers``) import their framework only
when a model of it is saved or loaded.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from runners import lightgbm, models, onnx, pytorch, sklearn, transformers, xgboost
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
    "lightgbm",
    "method",
    "models",
    "onnx",
    "pytorch",
    "sklearn",
    "transformers",
    "xgboost",
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


_MODULES = ("models", "sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "transformers")


def __getattr__(name: str) -> _typing.Any:
    if name in _MODULES:
        value: _typing.Any = _importlib.import_module(f"runners.{name}")
    elif name in _HOMES:
        value = getattr(_importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'runners' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
