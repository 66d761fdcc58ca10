"""What a runner serves: ``RunnerSpec`` (name, model tag or runnable import path, batching, how many
worker processes, and for a stored model its intra-op ``threads`` and ``device``), and ``resolve``
to turn it into the ``Runnable`` class, its init params and its methods.

A spec is plain data, JSON-able, so a parent process can hand it to a sidecar it starts.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from runners.hardware import check_device, check_threads
from runners.imports import import_target
from runners.runnable import MethodConfig, Runnable
from runners.store.model_store import ModelStore, StoredModel, StoreError

# Framework name in model.json -> adapter module with ``runnable_for(model) -> type[Runnable]``.
_ADAPTERS = {
    "sklearn": "runners.sklearn",
    "xgboost": "runners.xgboost",
    "lightgbm": "runners.lightgbm",
    "onnx": "runners.onnx",
    "pytorch": "runners.pytorch",
    "transformers": "runners.transformers",
}

# Runner names become file names (Unix sockets), metric labels and parts of ``runner.method``.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class InvalidOption(ValueError):
    """A value that breaks one of the rules below; ``key`` names the option (the YAML layer reports it)."""

    def __init__(self, key: str, message: str, value: Any) -> None:
        self.key = key
        self.message = message
        self.value = value
        super().__init__(f"{key} {message}, not {value!r}")


def check_runner_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"invalid runner name {name!r}: a runner name may hold only letters, digits, _ and -, "
            "and starts with a letter or digit"
        )
    return name


def url_variable(name: str) -> str:
    """The variable with runner ``name``'s URL: ``iris-clf`` → ``TIFFIN_RUNNER_IRIS_CLF_URL``."""
    return "TIFFIN_RUNNER_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_URL"


@dataclass(frozen=True)
class BatchingOptions:
    enabled: bool = True
    max_batch_size: int = 64
    max_latency_ms: float = 10.0
    max_queue: int = 1024

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise InvalidOption("max_batch_size", "must be at least 1", self.max_batch_size)
        if self.max_latency_ms < 0:
            raise InvalidOption("max_latency_ms", "must not be negative", self.max_latency_ms)
        if self.max_queue < 1:
            raise InvalidOption("max_queue", "must be at least 1", self.max_queue)

    @classmethod
    def coerce(cls, value: BatchingOptions | Mapping[str, Any] | None) -> BatchingOptions:
        """From a mapping of the YAML ``batching`` keys (missing keys take the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, BatchingOptions):
            return value
        return cls(**{k: v for k, v in value.items() if v is not None})


@dataclass(frozen=True)
class RunnerSpec:
    name: str
    model: str | None = None
    runnable: str | None = None
    init_params: dict[str, Any] = field(default_factory=dict)
    batching: BatchingOptions = field(default_factory=BatchingOptions)
    workers: int = 1  # processes serving it on one machine, each with its own model copy
    threads: int | None = None  # a stored model's intra-op threads; None: the process's CPU share
    device: str | None = None  # a stored model's device: cpu, cuda, cuda:N; None: cpu

    def __post_init__(self) -> None:
        check_runner_name(self.name)
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 1:
            raise InvalidOption("workers", "must be a whole number of at least 1", self.workers)
        if (self.model is None) == (self.runnable is None):
            raise ValueError(f"runner {self.name!r}: give exactly one of model (a tag) or runnable (an import path)")
        if self.model is not None and self.init_params:
            raise ValueError(f"runner {self.name!r}: init_params only apply to a runnable, not to a stored model")
        if self.runnable is not None and (self.threads is not None or self.device is not None):
            raise ValueError(
                f"runner {self.name!r}: threads and device apply to a stored model; a runnable takes init_params"
            )
        try:
            check_threads(self.threads)
            if self.device is not None:
                check_device(self.device)
        except ValueError as exc:
            raise ValueError(f"runner {self.name!r}: {exc}") from None

    @classmethod
    def for_model(
        cls,
        name: str,
        tag: str,
        *,
        batching: BatchingOptions | Mapping[str, Any] | None = None,
        workers: int = 1,
        threads: int | None = None,
        device: str | None = None,
    ) -> RunnerSpec:
        options = BatchingOptions.coerce(batching)
        return cls(name, model=str(tag), batching=options, workers=workers, threads=threads, device=device)

    @classmethod
    def for_runnable(
        cls,
        name: str,
        runnable: str,
        *,
        init_params: Mapping[str, Any] | None = None,
        batching: BatchingOptions | Mapping[str, Any] | None = None,
        workers: int = 1,
    ) -> RunnerSpec:
        return cls(
            name,
            runnable=runnable,
            init_params=dict(init_params or {}),
            batching=BatchingOptions.coerce(batching),
            workers=workers,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunnerSpec:
        data = json.loads(text)
        data["batching"] = BatchingOptions.coerce(data.get("batching"))
        return cls(**data)


@dataclass(frozen=True)
class Resolved:
    runnable_class: type[Runnable]
    init_params: dict[str, Any]
    methods: dict[str, MethodConfig]
    framework: str
    model: StoredModel | None = None


def runnable_for_model(model: StoredModel) -> type[Runnable]:
    module_name = _ADAPTERS.get(model.info.framework)
    if module_name is None:
        raise StoreError(f"model {model.tag}: unsupported framework {model.info.framework!r}")
    runnable: type[Runnable] = importlib.import_module(module_name).runnable_for(model)
    return runnable


def resolve(spec: RunnerSpec, store: ModelStore | None = None) -> Resolved:
    """Read the model's metadata or import the runnable; does not load the model itself."""
    if spec.model is not None:
        model = (store or ModelStore.default()).get(spec.model)
        cls = runnable_for_model(model)
        params: dict[str, Any] = (
            {"tag": str(model.tag)} if store is None else {"tag": str(model.tag), "store": str(store.root)}
        )
        params.update({k: v for k, v in (("threads", spec.threads), ("device", spec.device)) if v is not None})
        return Resolved(cls, params, cls.exposed_methods(), model.info.framework, model)
    target = import_target(str(spec.runnable))
    if not (isinstance(target, type) and issubclass(target, Runnable)):
        raise TypeError(f"runner {spec.name!r}: {spec.runnable} is not a runners.Runnable subclass")
    methods = target.exposed_methods()
    if not methods:
        raise TypeError(f"runner {spec.name!r}: {spec.runnable} exposes no @runners.method")
    return Resolved(target, dict(spec.init_params), methods, "custom")
