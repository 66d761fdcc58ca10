"""Attacks on a stored model, for the tests that check they are refused and nothing runs.

``flip_byte`` changes the artifact behind its checksum's back. ``replace_artifact`` is an
attacker who can write the model's directory: new bytes *and* a matching checksum in
``model.json``. ``pickle_payload(marker)`` is a pickle that creates ``marker`` when unpickled, so
a test can tell whether loading executed anything from the artifact.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

from runners.store.model_store import StoredModel, manifest, manifest_digest


class _Touch:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def pickle_payload(marker: Path) -> bytes:
    return pickle.dumps({"weights": _Touch(marker)})


def flip_byte(model: StoredModel, relative: str | None = None) -> None:
    path = model.artifact_path / relative if relative else model.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def replace_artifact(model: StoredModel, data: bytes, relative: str | None = None) -> None:
    """Write ``data`` as the artifact (or as ``relative`` inside a directory artifact) and re-sign model.json."""
    target = model.artifact_path / relative if relative else model.artifact_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    meta = json.loads((model.path / "model.json").read_text())
    if model.artifact_path.is_dir():
        meta["files"] = manifest(model.artifact_path)
        meta["sha256"] = manifest_digest(meta["files"])
    else:
        meta["sha256"] = hashlib.sha256(data).hexdigest()
    (model.path / "model.json").write_text(json.dumps(meta))


def edit_options(model: StoredModel, **options: Any) -> None:
    meta = json.loads((model.path / "model.json").read_text())
    meta["options"].update(options)
    (model.path / "model.json").write_text(json.dumps(meta))
