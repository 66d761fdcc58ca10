"""The model store for any framework, as ``runners.models``: ``get``, ``list``, ``delete``,
``import_model``, ``export_model`` (BentoML's ``bentoml.models`` names). The framework modules
(``runners.sklearn``) save and load; these find, remove and move what they saved.
"""

from __future__ import annotations

import builtins
from pathlib import Path

from runners.store.model_store import METADATA_FILE, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

__all__ = ["StoredModel", "delete", "export_model", "get", "import_model", "list"]


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return (store or ModelStore.default()).get(tag)


def list(name: str | None = None, *, store: ModelStore | None = None) -> builtins.list[StoredModel]:
    return (store or ModelStore.default()).models(name)


def delete(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return (store or ModelStore.default()).delete(tag)


def import_model(path: Path | str, *, name: str | None = None, store: ModelStore | None = None) -> StoredModel:
    """Add a ``.skops`` file (as ``name``, default the file's stem) or an exported model directory."""
    path = Path(path)
    if path.is_dir():
        if not (path / METADATA_FILE).is_file():
            raise StoreError(f"{path} is not an exported model directory (no {METADATA_FILE})")
        if name is not None:
            raise StoreError("a name applies to a .skops file; an exported model keeps its own tag")
        return (store or ModelStore.default()).import_dir(path)
    if path.suffix != ".skops":
        raise StoreError(f"{path}: expected a .skops file or an exported model directory")
    from runners import sklearn

    return sklearn.import_file(path, name, store=store)


def export_model(tag: str | Tag, target: Path | str, *, store: ModelStore | None = None) -> Path:
    """Copy a model out as a directory that ``import_model`` takes back."""
    return (store or ModelStore.default()).export(tag, target)
