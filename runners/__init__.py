"""tiffin runners: the model store, ``Runnable``, adaptive batching, the runner sidecar and its client.

This package never imports ``app``. The public names are below; everything else lives in its
own module (``runners.store.model_store``, ``runners.sidecar.server``, ``runners.client.runner_client`` ...).
The framework modules (``runners.sklearn``, ``runners.xgboost``, ``runners.lightgbm``,
``runners.onnx``, ``runners.pytorch``, ``runners.transformers``) import their framework only
when a model of it is saved or loaded.
"""

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
