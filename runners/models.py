"""The model store for any framework, as ``runners.models``: ``get``, ``list``, ``delete``,
``import_model``, ``export_model`` (BentoML's ``bentoml.models`` names). The framework modules
(``runners.sklearn``, ``runners.xgboost``, ...) save and load; these find, remove and move what
they saved, and ``import_model`` hands a framework's own file to its module.
"""

from __future__ import annotations

import builtins
import importlib
from pathlib import Path
from typing import Any

from runners.store.model_store import METADATA_FILE, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

# A file's framework, by suffix; .json (XGBoost's JSON) and .txt (LightGBM's text) are sniffed.
SUFFIXES = {".skops": "sklearn", ".ubj": "xgboost", ".onnx": "onnx"}
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "onnx", "transformers")

__all__ = ["StoredModel", "delete", "export_model", "get", "import_model", "list"]


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return (store or ModelStore.default()).get(tag)


def list(name: str | None = None, *, store: ModelStore | None = None) -> builtins.list[StoredModel]:
    return (store or ModelStore.default()).models(name)


def delete(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return (store or ModelStore.default()).delete(tag)


def import_model(
    path: Path | str,
    *,
    name: str | None = None,
    framework: str | None = None,
    task: str | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Add an exported model directory, or a framework's own file as ``name`` (default: the file's stem).

    The framework is ``framework``, or told by the file: ``.skops`` (scikit-learn), ``.ubj`` or
    XGBoost's ``.json`` (XGBoost), LightGBM's text ``.txt``, ``.onnx``, or a Hugging Face model
    directory (Transformers; give its ``task``).
    """
    path = Path(path)
    if path.is_dir() and (path / METADATA_FILE).is_file() and framework is None:
        if name is not None:
            raise StoreError("a name applies to a framework's file; an exported model keeps its own tag")
        return (store or ModelStore.default()).import_dir(path)
    chosen = framework or _framework_of(path)
    if chosen not in FRAMEWORKS:
        raise StoreError(f"cannot import {chosen!r} models from a file; frameworks: {', '.join(FRAMEWORKS)}")
    options: dict[str, Any] = {"task": task} if chosen == "transformers" else {}
    if task is not None and chosen != "transformers":
        raise StoreError("a task applies to a Transformers model directory")
    module = importlib.import_module(f"runners.{chosen}")
    stored: StoredModel = module.import_model(name or path.stem, path, store=store, **options)
    return stored


def _framework_of(path: Path) -> str:
    if path.is_dir():
        if (path / "config.json").is_file():
            return "transformers"
        raise StoreError(f"{path} is neither an exported model ({METADATA_FILE}) nor a Hugging Face model directory")
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    if path.suffix in SUFFIXES:
        return SUFFIXES[path.suffix]
    with open(path, "rb") as f:
        head = f.read(256).lstrip()
    if path.suffix == ".json" and head.startswith(b"{") and b'"learner"' in head:
        return "xgboost"
    if path.suffix == ".txt" and head.startswith(b"tree"):
        return "lightgbm"
    raise StoreError(
        f"{path}: cannot tell its framework; expected .skops, .ubj, .onnx, an XGBoost .json, a LightGBM .txt, "
        "a model directory, or --framework"
    )


def export_model(tag: str | Tag, target: Path | str, *, store: ModelStore | None = None) -> Path:
    """Copy a model out as a directory that ``import_model`` takes back."""
    return (store or ModelStore.default()).export(tag, target)
