"""PyTorch models: the weights in safetensors, the module built from your code; or TorchScript.

An ``nn.Module`` is stored as its ``state_dict`` in safetensors (tensors only: nothing to
unpickle), with the import path of its class and the keyword arguments that build it
(``init_kwargs``, JSON) in ``model.json``. Loading imports that class (your code: by its module
name, else from the file it was defined in when it was saved; never a file inside the model
store), checks that it is an ``nn.Module``, builds it and loads the weights strictly: every
tensor must match by name and shape. (A module whose class alone cannot rebuild it, when no
``init_kwargs`` are given, is stored as TorchScript if it scripts.) A ``torch.jit``
ScriptModule is stored with ``torch.jit.save`` and loaded by TorchScript's own deserializer,
which restores tensors and TorchScript code but no Python objects. (PyTorch now deprecates
TorchScript for ``torch.export``; exported programs are not taken, because ``torch.export.load``
falls back to unpickling what it cannot read otherwise.)

Methods take numpy arrays (or tensors) and return numpy arrays; floating inputs are cast to the
module's floating dtype, and everything runs under ``torch.inference_mode()`` on the runner's
device. ``__call__`` is batchable along dimension 0 by default. The runner's thread count is
``torch.set_num_threads``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runners.adapter import Adapter, LoadOptions, Signatures, UntrustedArtifact, no_more
from runners.hardware import DeviceUnavailable
from runners.imports import ImportTargetError, import_target, path_of
from runners.runnable import Runnable
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

__all__ = ["ADAPTER", "get", "load_model", "runnable_for", "save_model"]

STATE_DICT = "safetensors"
TORCHSCRIPT = "torchscript"


class PyTorchAdapter(Adapter):
    framework = "pytorch"
    display = "a PyTorch"
    artifact = "model.safetensors"
    distributions = ("torch", "safetensors", "numpy")
    devices = ("cpu", "cuda")

    def check(self, model: Any) -> None:
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"expected a torch.nn.Module, not {type(model)!r}")

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        return {"__call__": {"batchable": True, "batch_dim": 0}}

    def options(
        self,
        model: Any,
        *,
        module_class: type[Any] | str | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        **save_options: Any,
    ) -> dict[str, Any]:
        no_more(save_options)
        import torch

        if isinstance(model, torch.jit.ScriptModule):
            if module_class is not None or init_kwargs:
                raise TypeError("a TorchScript module needs no module_class or init_kwargs")
            return {"format": TORCHSCRIPT}
        try:
            return _state_dict_options(model, module_class, init_kwargs)
        except ValueError as exc:
            if module_class is not None or init_kwargs is not None:
                raise  # what the caller said does not rebuild the module: say so
            # Nothing said how to rebuild it, and its class alone does not: TorchScript, if it scripts.
            if _scripted(model) is None:
                raise ValueError(f"{exc}; or save a TorchScript module (torch.jit.script(model))") from None
            return {"format": TORCHSCRIPT, "scripted_from": type(model).__qualname__}

    def artifact_for(self, options: Mapping[str, Any]) -> str:
        return "model.torchscript" if options.get("format") == TORCHSCRIPT else self.artifact

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        import torch

        if options["format"] == TORCHSCRIPT:
            scripted = model if isinstance(model, torch.jit.ScriptModule) else _scripted(model)
            torch.jit.save(scripted, str(path))
        else:
            from safetensors.torch import save_model

            save_model(model, str(path))  # de-duplicates tied weights, refuses what it cannot store

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        import torch

        device = _device(load)
        _set_threads(load.thread_count)
        options = stored.info.options
        if options.get("format") == TORCHSCRIPT:
            try:
                module = torch.jit.load(io.BytesIO(self.read_bytes(stored)), map_location=device)
            except RuntimeError as exc:
                raise ModelCorrupted(f"model {stored.tag}: not a readable TorchScript archive: {exc}") from exc
            return module.eval()
        if options.get("format") != STATE_DICT:
            raise ModelCorrupted(f"model {stored.tag}: unknown format {options.get('format')!r}")
        cls = _module_class(options, stored)
        from safetensors import SafetensorError
        from safetensors.torch import load_model

        stored.verify()
        try:
            module = cls(**dict(options.get("init_kwargs") or {}))
        except TypeError as exc:
            raise ModelCorrupted(f"model {stored.tag}: cannot build {options['module']}: {exc}") from exc
        try:
            load_model(module, str(stored.artifact_path), strict=True, device=str(device))
        except (SafetensorError, RuntimeError, OSError) as exc:
            raise ModelCorrupted(
                f"model {stored.tag}: the weights do not load into {options['module']}: {exc}"
            ) from exc
        return module.to(device).eval()

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        return _TensorCall(getattr(model, name), model, _device(load))


class _TensorCall:
    """A module method called with numpy in, numpy out, without autograd, on the module's device."""

    def __init__(self, fn: Callable[..., Any], module: Any, device: Any) -> None:
        import torch

        self.fn = fn
        self.device = device
        floats = [p.dtype for p in module.parameters() if p.is_floating_point()]
        self.dtype = floats[0] if floats else torch.get_default_dtype()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            result = self.fn(*(self._in(a) for a in args), **{k: self._in(v) for k, v in kwargs.items()})
        return _out(result)

    def _in(self, value: Any) -> Any:
        import numpy as np
        import torch

        if isinstance(value, list):
            array = np.asarray(value)
            value = array if array.dtype.kind in "biuf" else value
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and value.dtype != self.dtype:
                value = value.to(self.dtype)
            return value.to(self.device)
        if isinstance(value, Mapping):
            return {k: self._in(v) for k, v in value.items()}
        return value


def _out(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, tuple | list):
        return type(value)(_out(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _out(v) for k, v in value.items()}
    return value


def _state_dict_options(
    model: Any, module_class: type[Any] | str | None, init_kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    cls = module_class or type(model)
    try:
        target = cls if isinstance(cls, str) else path_of(cls)
    except ValueError as exc:
        raise ValueError(f"the module's class must be importable by the runner: {exc}") from None
    options: dict[str, Any] = {"format": STATE_DICT, "module": target, "init_kwargs": dict(init_kwargs or {})}
    source = _source_file(cls)
    if source is not None and not target.startswith(f"{source}:"):
        # A module found on this process's path (a script's own directory) may not be on the runner's.
        options["module_file"] = f"{source}:{target.rpartition(':')[2]}"
    _check_rebuilds(model, options)
    return options


def _scripted(model: Any) -> Any:
    """``torch.jit.script(model)``, or ``None`` when TorchScript cannot compile it."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notice
        try:
            return torch.jit.script(model)
        except Exception:  # TorchScript's frontend raises many kinds of errors on unsupported code
            return None


def _source_file(cls: Any) -> str | None:
    if isinstance(cls, str):
        return None
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    return str(Path(file).resolve()) if file else None


def _module_class(options: Mapping[str, Any], stored: StoredModel) -> Any:
    import torch

    targets = [str(options.get("module"))] + ([str(options["module_file"])] if options.get("module_file") else [])
    store_root = stored.path.parent.parent.resolve()
    errors = []
    for target in targets:
        module_part = target.rpartition(":")[0]
        if module_part.endswith(".py") and Path(module_part).resolve().is_relative_to(store_root):
            raise UntrustedArtifact(f"model {stored.tag}: its module class {target} lives in the model store")
        try:
            cls = import_target(target)
        except ImportTargetError as exc:
            errors.append(str(exc))
            continue
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise UntrustedArtifact(f"model {stored.tag}: {target} is not a torch.nn.Module subclass")
        return cls
    raise StoreError(f"model {stored.tag}: cannot import its module class: {'; '.join(errors)}")


def _check_rebuilds(model: Any, options: Mapping[str, Any]) -> None:
    """Refuse now a module that could never be loaded back: its class, built on the meta device."""
    import torch

    try:
        cls = import_target(options["module"])
    except ImportTargetError as exc:
        raise ValueError(f"the module's class cannot be imported back: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ValueError(f"{options['module']} is not a torch.nn.Module subclass")
    with torch.device("meta"):
        try:
            empty = cls(**options["init_kwargs"])
        except TypeError as exc:
            raise ValueError(f"{options['module']}(**init_kwargs) fails: {exc}; pass init_kwargs=...") from None
    expected = {k: tuple(v.shape) for k, v in empty.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if expected != found:
        differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        raise ValueError(
            f"{options['module']}(**init_kwargs) has other tensors than the model ({', '.join(differ[:5])}); "
            "pass the init_kwargs that built it"
        )


def _device(load: LoadOptions) -> Any:
    import torch

    if load.cuda_index is not None:
        if not torch.cuda.is_available() or load.cuda_index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"device {load.device!r}: no such CUDA device here")
        return torch.device("cuda", load.cuda_index)
    return torch.device("cpu")


def _set_threads(count: int) -> None:
    import torch

    torch.set_num_threads(count)
    try:
        torch.set_num_interop_threads(1)  # only before the first parallel work of the process
    except RuntimeError:
        pass


ADAPTER = PyTorchAdapter()


def save_model(
    name: str,
    model: Any,
    *,
    module_class: type[Any] | str | None = None,
    init_kwargs: Mapping[str, Any] | None = None,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store an ``nn.Module`` (weights in safetensors) or a TorchScript module.

    ``module_class`` (default: the model's own class) and ``init_kwargs`` say how the runner
    rebuilds the module before loading the weights: ``module_class(**init_kwargs)``. When neither
    is given and the class alone cannot rebuild it (its constructor needs arguments, or it is
    defined inside a function), the module is stored as TorchScript if ``torch.jit.script``
    compiles it; otherwise the error says to pass ``init_kwargs``.
    """
    return ADAPTER.save_model(
        name,
        model,
        signatures=signatures,
        metadata=metadata,
        store=store,
        module_class=module_class,
        init_kwargs=init_kwargs,
    )


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return ADAPTER.get(tag, store=store)


def load_model(
    tag: str | Tag | StoredModel,
    *,
    store: ModelStore | None = None,
    threads: int | None = None,
    device: str | None = None,
) -> Any:
    """The module in eval mode, on ``device``, its weights verified and loaded strictly."""
    return ADAPTER.load_model(tag, store=store, threads=threads, device=device)


def runnable_for(model: StoredModel) -> type[Runnable]:
    return ADAPTER.runnable_for(model)
