"""Hugging Face Transformers pipelines: ``save_pretrained`` with safetensors, rebuilt by task.

``save_model("summarizer", pipeline(...))`` stores the pipeline's model directory (config,
weights in safetensors, tokenizer, generation config) and records its task. Loading rebuilds
``transformers.pipeline(task, model=<dir>)`` from the store with ``trust_remote_code=False`` and
``use_safetensors=True``, after checking the directory against its checksums and that it holds
only data files (``ALLOWED_SUFFIXES``): no pickled ``*.bin``/``*.pt`` weights and no ``*.py`` code.

``__call__`` is the pipeline's own call. It is batchable along dimension 0: concurrent callers'
lists of inputs go to the pipeline as one list and each gets its own results back; a single
string runs alone. The runner's thread count is torch's; ``device`` is the pipeline's device.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runners.adapter import Adapter, LoadOptions, Signatures, UntrustedArtifact, no_more
from runners.hardware import DeviceUnavailable
from runners.runnable import Runnable
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

__all__ = ["ADAPTER", "ALLOWED_SUFFIXES", "get", "import_model", "load_model", "runnable_for", "save_model"]

# Data formats a model directory may hold: JSON configs and tokenizers, safetensors weights,
# vocabularies (.txt), sentencepiece models (.model, a protobuf), chat templates, model cards.
ALLOWED_SUFFIXES = frozenset({".json", ".safetensors", ".txt", ".model", ".jinja", ".md", ".tiktoken"})


class TransformersAdapter(Adapter):
    framework = "transformers"
    display = "a Transformers"
    artifact = "pipeline"
    distributions = ("transformers", "tokenizers", "torch", "safetensors", "numpy")
    devices = ("cpu", "cuda")

    def check(self, model: Any) -> None:
        import transformers

        if not isinstance(model, transformers.Pipeline):
            raise TypeError(f"expected a transformers.Pipeline, not {type(model)!r}")
        _task(model.task)

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        return {"__call__": {"batchable": True, "batch_dim": 0}}

    def options(self, model: Any, **save_options: Any) -> dict[str, Any]:
        no_more(save_options)
        return {"task": model.task, "pipeline": type(model).__name__, "model_class": type(model.model).__name__}

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        model.save_pretrained(str(path), safe_serialization=True)
        _check_files(path, f"pipeline {options['task']!r}")

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        import transformers

        path = stored.verify()
        _check_files(path, f"model {stored.tag}")
        task = _task(str(stored.info.options.get("task")))
        device = _device(load)
        try:
            return transformers.pipeline(
                task,
                model=str(path),
                tokenizer=str(path) if _has_tokenizer(path) else None,
                device=device,
                trust_remote_code=False,
                model_kwargs={"use_safetensors": True, "local_files_only": True},
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelCorrupted(f"model {stored.tag}: cannot rebuild the {task} pipeline: {exc}") from exc

    def open(self, path: Path, **options: Any) -> Any:
        """A Hugging Face model directory (``save_pretrained``) as a ``task`` pipeline."""
        import transformers

        task = options.pop("task", None)
        no_more(options)
        if not task:
            raise StoreError("importing a Transformers model directory needs its task (e.g. 'summarization')")
        if not path.is_dir():
            raise StoreError(f"{path} is not a model directory")
        _check_files(path, str(path))
        try:
            return transformers.pipeline(
                _task(task),
                model=str(path),
                tokenizer=str(path) if _has_tokenizer(path) else None,
                trust_remote_code=False,
                model_kwargs={"use_safetensors": True, "local_files_only": True},
            )
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(f"{path}: cannot build a {task} pipeline from it: {exc}") from exc

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(model, name)

        def call(inputs: Any, *args: Any, **kwargs: Any) -> Any:
            return fn(_plain(inputs), *args, **kwargs)

        return call


def _plain(value: Any) -> Any:
    """Text arrays (what JSON lists of strings decode to on the wire) as the lists pipelines take."""
    import numpy as np

    if isinstance(value, np.ndarray) and value.dtype.kind in "US":
        return value.tolist()
    return value


def _task(task: str) -> str:
    from transformers.pipelines import SUPPORTED_TASKS, TASK_ALIASES

    if task not in SUPPORTED_TASKS and task not in TASK_ALIASES:
        raise UntrustedArtifact(f"{task!r} is not a task Transformers ships a pipeline for")
    return task


def _check_files(path: Path, origin: str) -> None:
    refused = sorted(
        p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and p.suffix not in ALLOWED_SUFFIXES
    )
    if refused:
        raise UntrustedArtifact(
            f"{origin} holds files tiffin does not load ({', '.join(refused[:8])}): only data files "
            f"({', '.join(sorted(ALLOWED_SUFFIXES))}); save weights with safe_serialization=True and no remote code"
        )
    config = path / "config.json"
    try:
        if "auto_map" in json.loads(config.read_text()):
            raise UntrustedArtifact(
                f"{origin} needs custom code (auto_map in config.json); tiffin never trusts remote code"
            )
    except (OSError, ValueError) as exc:
        raise ModelCorrupted(f"{origin}: unreadable config.json: {exc}") from exc


def _has_tokenizer(path: Path) -> bool:
    return any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


def _device(load: LoadOptions) -> str:
    import torch

    torch.set_num_threads(load.thread_count)
    if load.cuda_index is not None:
        if not torch.cuda.is_available() or load.cuda_index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"device {load.device!r}: no such CUDA device here")
        return f"cuda:{load.cuda_index}"
    return "cpu"


ADAPTER = TransformersAdapter()


def save_model(
    name: str,
    pipeline: Any,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store a ``transformers.Pipeline`` (its model, tokenizer and task)."""
    return ADAPTER.save_model(name, pipeline, signatures=signatures, metadata=metadata, store=store)


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return ADAPTER.get(tag, store=store)


def load_model(
    tag: str | Tag | StoredModel,
    *,
    store: ModelStore | None = None,
    threads: int | None = None,
    device: str | None = None,
) -> Any:
    """The pipeline, rebuilt from the verified model directory."""
    return ADAPTER.load_model(tag, store=store, threads=threads, device=device)


def import_model(
    name: str,
    path: Path | str,
    *,
    task: str,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store a Hugging Face model directory (safetensors weights) as a ``task`` pipeline."""
    return ADAPTER.import_model(name, path, signatures=signatures, metadata=metadata, store=store, task=task)


def runnable_for(model: StoredModel) -> type[Runnable]:
    return ADAPTER.runnable_for(model)
