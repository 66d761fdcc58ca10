"""``Adapter``: what the framework modules share, so each says only what differs for its framework.

Every framework module (``runners.sklearn``, ``runners.xgboost``, ``runners.lightgbm``,
``runners.onnx``, ``runners.pytorch``, ``runners.transformers``) has one adapter and offers
BentoML's names on top of it::

    stored = runners.xgboost.save_model("fraud", clf, signatures=..., metadata=...)   # .tag
    runners.xgboost.get("fraud:latest")            # the StoredModel, refused if of another framework
    runners.xgboost.load_model("fraud:latest")     # the framework's own object, checksum verified
    runners.xgboost.import_model("fraud", "model.ubj")   # the framework's own file format
    runners.xgboost.get("fraud:latest").to_runner()

An adapter supplies how to describe a model (``options``, recorded in ``model.json`` and all
that loading may rely on), write its artifact in a format that loads without running code from
it (``write``), read it back once the store has verified it (``read``), open a file of the
framework's own format (``open``), and call a signature on a loaded model (``bind``). Framework
imports stay inside those methods: importing ``runners`` or serving a scikit-learn model never
imports torch.

The runner for a stored model is a ``ModelRunnable`` subclass made by ``runnable_for``: one
``@method`` per recorded signature; ``threads`` (intra-op threads, default the process's CPU
share) and ``device`` reach ``read`` through ``LoadOptions``.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from runners.hardware import check_device, check_threads, threads_for
from runners.runnable import MethodConfig, Runnable, method
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

Signatures = Mapping[str, Mapping[str, Any]]


class UntrustedArtifact(StoreError):
    """The artifact needs something tiffin does not trust (a type, a file kind, code); it is not loaded."""


@dataclass(frozen=True)
class LoadOptions:
    threads: int | None = None
    device: str = "cpu"

    @property
    def thread_count(self) -> int:
        """Intra-op threads: as configured, else the CPUs this process may use."""
        return threads_for(self.threads)

    @property
    def cuda_index(self) -> int | None:
        """The CUDA device number (``cuda`` is device 0), ``None`` on the CPU."""
        if self.device == "cpu":
            return None
        return int(self.device.partition(":")[2] or 0)


class Adapter:
    framework: ClassVar[str]  # the name recorded in model.json
    display: ClassVar[str]  # "an XGBoost", for messages
    artifact: ClassVar[str]  # file or directory name inside the version directory
    distributions: ClassVar[tuple[str, ...]]  # whose versions are recorded at save
    devices: ClassVar[tuple[str, ...]] = ("cpu",)  # "cuda" when the framework can use a GPU
    thread_affine: ClassVar[bool] = True  # see Runnable.THREAD_AFFINE
    runnable_base: ClassVar[type[ModelRunnable]]

    # --- what each framework says --------------------------------------------------------

    def check(self, model: Any) -> None:
        """Raise ``TypeError`` for objects this framework cannot save."""

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def has_method(self, model: Any, name: str) -> bool:
        return callable(getattr(model, name, None))

    def options(self, model: Any, **save_options: Any) -> dict[str, Any]:
        """JSON-able facts about ``model`` that ``read`` needs to rebuild it."""
        no_more(save_options)
        return {}

    def artifact_for(self, options: Mapping[str, Any]) -> str:
        """The artifact's name, when a framework stores more than one format."""
        return self.artifact

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        """The model, rebuilt from the artifact, which it verifies first (``read_bytes``, ``stored.verify()``)."""
        raise NotImplementedError

    def open(self, path: Path, **options: Any) -> Any:
        """A model from a file (or directory) of the framework's own format, loaded safely."""
        raise StoreError(f"{self.display} model cannot be imported from a file")

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        """The callable that serves signature ``name`` of a loaded model."""
        bound: Callable[..., Any] = getattr(model, name)
        return bound

    # --- shared ----------------------------------------------------------------------------

    def save_model(
        self,
        name: str,
        model: Any,
        *,
        signatures: Signatures | None = None,
        metadata: Mapping[str, Any] | None = None,
        store: ModelStore | None = None,
        **save_options: Any,
    ) -> StoredModel:
        self.check(model)
        configs = self.signatures(model, signatures)
        options = self.options(model, **save_options)
        return (store or ModelStore.default()).create(
            name,
            framework=self.framework,
            artifact=self.artifact_for(options),
            write=lambda path: self.write(model, path, options),
            signatures=configs,
            libraries=self.libraries(),
            metadata=dict(metadata or {}),
            options=options,
        )

    def get(self, tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
        model = (store or ModelStore.default()).get(tag)
        self._own(model)
        return model

    def load_model(
        self,
        tag: str | Tag | StoredModel,
        *,
        store: ModelStore | None = None,
        threads: int | None = None,
        device: str | None = None,
    ) -> Any:
        """The framework's model object, after checking the artifact against its checksums."""
        model = tag if isinstance(tag, StoredModel) else self.get(tag, store=store)
        self._own(model)
        return self.read(model, self.load_options(threads, device))

    def load_options(self, threads: int | None = None, device: str | None = None) -> LoadOptions:
        return LoadOptions(check_threads(threads), self.check_device(device or "cpu"))

    def import_model(
        self,
        name: str,
        path: Path | str,
        *,
        signatures: Signatures | None = None,
        metadata: Mapping[str, Any] | None = None,
        store: ModelStore | None = None,
        **options: Any,
    ) -> StoredModel:
        """Store a model from a file of the framework's own format, loaded the same safe way."""
        path = Path(path)
        if not path.exists():
            raise StoreError(f"{path}: no such file or directory")
        model = self.open(path, **options)
        return self.save_model(
            name, model, signatures=signatures, metadata={"imported_from": path.name, **(metadata or {})}, store=store
        )

    def signatures(self, model: Any, signatures: Signatures | None) -> dict[str, MethodConfig]:
        chosen = signatures or self.default_signatures(model)
        configs = {name: MethodConfig.from_dict(dict(options)) for name, options in chosen.items()}
        missing = [name for name in configs if not self.has_method(model, name)]
        if missing:
            raise ValueError(f"{type(model).__name__} has no method {', '.join(missing)} named in signatures")
        return configs

    def libraries(self) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        found = {"python": platform.python_version()}
        for dist in self.distributions:
            try:
                found[dist] = version(dist)
            except PackageNotFoundError:
                continue
        return found

    def check_device(self, device: str) -> str:
        check_device(device)
        if device.partition(":")[0] not in self.devices:
            raise ValueError(f"{self.display} model runs on the CPU; device {device!r} is not supported")
        return device

    def runnable_for(self, model: StoredModel) -> type[Runnable]:
        methods = {
            name: method(batchable=config.batchable, batch_dim=config.batch_dim)(_calls(name))
            for name, config in model.info.signatures.items()
        }
        base = self.runnable_base
        attributes = {"ADAPTER": self, "THREAD_AFFINE": self.thread_affine, **methods}
        return type(f"{base.__name__}_{model.tag.name}", (base,), attributes)

    @staticmethod
    def read_bytes(stored: StoredModel) -> bytes:
        """The artifact's bytes, once they match the checksum: read once, checked and loaded from memory."""
        try:
            data = stored.artifact_path.read_bytes()
        except OSError as exc:
            raise ModelCorrupted(f"model {stored.tag}: cannot read {stored.artifact_path}: {exc}") from exc
        stored.verify(data)
        return data

    def _own(self, model: StoredModel) -> None:
        if model.info.framework != self.framework:
            raise StoreError(f"model {model.tag} is a {model.info.framework!r} model, not {self.display} one")


def no_more(options: Mapping[str, Any]) -> None:
    """Refuse options a framework does not know (what ``**options`` would otherwise swallow)."""
    if options:
        raise TypeError(f"unexpected options: {', '.join(sorted(options))}")


class ModelRunnable(Runnable):
    """Hosts one stored model; ``Adapter.runnable_for`` subclasses it with one method per signature."""

    ADAPTER: ClassVar[Adapter]
    SUPPORTS_CPU_MULTI_THREADING = True

    def __init__(
        self, tag: str, store: str | None = None, threads: int | None = None, device: str | None = None
    ) -> None:
        adapter = self.ADAPTER
        stored = adapter.get(tag, store=ModelStore(store) if store else None)
        load = adapter.load_options(threads, device)
        self.model = adapter.read(stored, load)
        self.calls = {name: adapter.bind(self.model, name, stored, load) for name in stored.info.signatures}


def _calls(name: str) -> Callable[..., Any]:
    def call(self: ModelRunnable, *args: Any, **kwargs: Any) -> Any:
        return self.calls[name](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


Adapter.runnable_base = ModelRunnable
