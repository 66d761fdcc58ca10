"""The model store for any framework, as ``runners.models``: ``get``, ``list``, ``delete``,
``import_model``, ``export_model`` (BentoML's ``bentoml.models`` names). The framework modules
(``runners.sklearn``, ``runners.xgboost``, ...) save and load; these find, remove and move what
they saved, and ``import_model`` hands a framework's own file to its module.
"""

from __future__ import annotations

import builtins
import importlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from runners.store import archive
from runners.store.model_store import METADATA_FILE, ModelInfo, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

# A file's framework, by suffix; .json (XGBoost's JSON) and .txt (LightGBM's text) are sniffed.
SUFFIXES = {".skops": "sklearn", ".ubj": "xgboost", ".onnx": "onnx"}
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "onnx", "transformers")
STORED_FRAMEWORKS = (*FRAMEWORKS, "pytorch")  # what an exported model may say it is

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
    """Add an exported model (a directory or an archive of one), or a framework's own file as ``name``.

    A file's name defaults to its stem; its framework is ``framework``, or told by the file:
    ``.skops`` (scikit-learn), ``.ubj`` or XGBoost's ``.json`` (XGBoost), LightGBM's text ``.txt``,
    ``.onnx``, or a Hugging Face model directory (Transformers; give its ``task``). An archive
    (``runners.store.archive.SUFFIXES``) is unpacked inside the store, checked, then imported.
    """
    path = Path(path)
    exported = path.is_dir() and (path / METADATA_FILE).is_file()
    if (exported or archive.is_archive(path)) and framework is None:
        if name is not None:
            raise StoreError("a name applies to a framework's file; an exported model keeps its own tag")
        chosen_store = store or ModelStore.default()
        return _import_exported(path, chosen_store) if exported else _import_archive(path, chosen_store)
    chosen = framework or _framework_of(path)
    if chosen not in FRAMEWORKS:
        raise StoreError(f"cannot import {chosen!r} models from a file; frameworks: {', '.join(FRAMEWORKS)}")
    options: dict[str, Any] = {"task": task} if chosen == "transformers" else {}
    if task is not None and chosen != "transformers":
        raise StoreError("a task applies to a Transformers model directory")
    module = importlib.import_module(f"runners.{chosen}")
    stored: StoredModel = module.import_model(name or path.stem, path, store=store, **options)
    return stored


def _import_archive(path: Path, store: ModelStore) -> StoredModel:
    store.root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=store.root))  # a dot: never listed as a model
    try:
        return _import_exported(archive.unpack(path, staging / "unpacked"), store)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _import_exported(path: Path, store: ModelStore) -> StoredModel:
    """``store.import_dir``, once ``model.json`` names a framework tiffin loads and that framework's artifact."""
    try:
        info = ModelInfo.from_dict(json.loads((path / METADATA_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path / METADATA_FILE}: unreadable model metadata: {exc}") from exc
    if info.framework not in STORED_FRAMEWORKS:
        known = ", ".join(STORED_FRAMEWORKS)
        raise StoreError(f"{path}: framework {info.framework!r} is not one tiffin loads ({known})")
    adapter = importlib.import_module(f"runners.{info.framework}").ADAPTER
    expected = adapter.artifact_for(info.options)
    if info.artifact != expected:
        raise StoreError(
            f"{path}: a {info.framework} model's artifact is {expected!r}, not {info.artifact!r}; "
            "tiffin loads each framework from its safe format only (never a pickle)"
        )
    return store.import_dir(path)


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
    """Copy a model out as a directory, or an archive when ``target`` ends in one of ``archive.SUFFIXES``;
    ``import_model`` takes either back."""
    target = Path(target)
    chosen = store or ModelStore.default()
    if not archive.is_archive(target):
        return chosen.export(tag, target)
    if target.exists():
        raise StoreError(f"{target} already exists")
    with tempfile.TemporaryDirectory(prefix="tiffin-export-") as scratch:
        model = chosen.get(tag)
        exported = chosen.export(model.tag, Path(scratch) / f"{model.tag.name}-{model.tag.version}")
        return archive.pack(exported, target)
