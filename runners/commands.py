"""``models list|get|delete|import``: plain functions, and ``add_commands`` to register them as
argparse subcommands (the ``tiffin`` CLI and ``python -m runners`` both call it).

Each registered command sets ``func(args) -> int`` (an exit code) on the parsed namespace.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runners import sklearn
from runners.store import METADATA_FILE, ModelStore, StoredModel, StoreError
from runners.tag import InvalidTag


def list_models(name: str | None = None, *, store: ModelStore | None = None) -> list[StoredModel]:
    return (store or ModelStore.default()).models(name)


def get_model(tag: str, *, store: ModelStore | None = None) -> StoredModel:
    return (store or ModelStore.default()).get(tag)


def delete_model(tag: str, *, store: ModelStore | None = None) -> StoredModel:
    return (store or ModelStore.default()).delete(tag)


def import_model(path: Path | str, *, name: str | None = None, store: ModelStore | None = None) -> StoredModel:
    """Import a ``.skops`` file (as ``name``, default the file's stem) or an exported model directory."""
    path = Path(path)
    if path.is_dir():
        if not (path / METADATA_FILE).is_file():
            raise StoreError(f"{path} is not an exported model directory (no {METADATA_FILE})")
        if name is not None:
            raise StoreError("--name applies to a .skops file; an exported model keeps its own tag")
        return (store or ModelStore.default()).import_dir(path)
    if path.suffix != ".skops":
        raise StoreError(f"{path}: expected a .skops file or an exported model directory")
    return sklearn.import_file(path, name, store=store)


def describe(model: StoredModel) -> dict[str, Any]:
    return {"tag": str(model.tag), "path": str(model.path), **model.info.to_dict()}


def _list(args: argparse.Namespace) -> int:
    models = list_models(args.name)
    if args.json:
        print(json.dumps([describe(m) for m in models], indent=2))
        return 0
    rows = [("TAG", "FRAMEWORK", "METHODS", "SIZE", "CREATED")]
    for m in models:
        methods = ",".join(f"{n}{'*' if c.batchable else ''}" for n, c in m.info.signatures.items())
        rows.append((str(m.tag), m.info.framework, methods, _size(m.info.size), m.info.created[:19]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _get(args: argparse.Namespace) -> int:
    print(json.dumps(describe(get_model(args.tag)), indent=2))
    return 0


def _delete(args: argparse.Namespace) -> int:
    print(f"deleted {delete_model(args.tag).tag}")
    return 0


def _import(args: argparse.Namespace) -> int:
    print(f"imported {import_model(args.path, name=args.name).tag}")
    return 0


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = func(args)
        except (StoreError, InvalidTag, ValueError, OSError) as exc:
            print(f"tiffin models: {exc}", file=sys.stderr)
            return 1
        return code

    return run


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``models`` with its subcommands on ``parser.add_subparsers()``'s result."""
    models = subparsers.add_parser("models", help="manage the local model store ($TIFFIN_HOME/models)")
    commands = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="list stored models ('*' marks batchable methods)")
    listing.add_argument("name", nargs="?", help="only versions of this model")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_guarded(_list))

    get = commands.add_parser("get", help="show a model's metadata")
    get.add_argument("tag", help="name:version or name[:latest]")
    get.set_defaults(func=_guarded(_get))

    delete = commands.add_parser("delete", help="delete one version of a model")
    delete.add_argument("tag", help="name:version or name[:latest]")
    delete.set_defaults(func=_guarded(_delete))

    importing = commands.add_parser("import", help="add a .skops file or an exported model directory")
    importing.add_argument("path", type=Path)
    importing.add_argument("--name", help="model name for a .skops file [the file's stem]")
    importing.set_defaults(func=_guarded(_import))
    return models
