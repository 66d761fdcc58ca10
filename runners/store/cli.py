"""``tiffin models list|get|delete|import|export``: argparse subcommands over ``runners.models``.

``add_commands(subparsers)`` registers them; each sets ``func(args) -> int`` (an exit code) on
the parsed namespace.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runners import models
from runners.store.model_store import StoredModel, StoreError
from runners.store.tag import InvalidTag


def describe(model: StoredModel) -> dict[str, Any]:
    return {"tag": str(model.tag), "path": str(model.path), **model.info.to_dict()}


def _list(args: argparse.Namespace) -> int:
    found = models.list(args.name)
    if args.json:
        print(json.dumps([describe(m) for m in found], indent=2))
        return 0
    rows = [("TAG", "FRAMEWORK", "METHODS", "SIZE", "CREATED")]
    for m in found:
        methods = ",".join(f"{n}{'*' if c.batchable else ''}" for n, c in m.info.signatures.items())
        rows.append((str(m.tag), m.info.framework, methods, _size(m.info.size), m.info.created[:19]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _get(args: argparse.Namespace) -> int:
    print(json.dumps(describe(models.get(args.tag)), indent=2))
    return 0


def _delete(args: argparse.Namespace) -> int:
    print(f"deleted {models.delete(args.tag).tag}")
    return 0


def _import(args: argparse.Namespace) -> int:
    imported = models.import_model(args.path, name=args.name, framework=args.framework, task=args.task)
    print(f"imported {imported.tag}")
    return 0


def _export(args: argparse.Namespace) -> int:
    print(f"exported {models.get(args.tag).tag} to {models.export_model(args.tag, args.path)}")
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
        except (StoreError, InvalidTag, ValueError, TypeError, OSError) as exc:
            print(f"tiffin models: {exc}", file=sys.stderr)
            return 1
        return code

    return run


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``models`` with its subcommands on ``parser.add_subparsers()``'s result."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "models", help="manage the local model store ($TIFFIN_HOME/models)"
    )
    commands = parser.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

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

    importing = commands.add_parser(
        "import",
        help="add an exported model (a directory, or a .tar[.gz|.bz2|.xz]/.zip archive of one), or a model file: "
        ".skops, .ubj/.json (XGBoost), .txt (LightGBM), .onnx, a Hugging Face model directory (with --task)",
    )
    importing.add_argument("path", type=Path)
    importing.add_argument("--name", help="model name for a model file [the file's stem]")
    importing.add_argument("--framework", choices=models.FRAMEWORKS, help="the file's framework [told by the file]")
    importing.add_argument("--task", help="a Transformers model directory's pipeline task, e.g. summarization")
    importing.set_defaults(func=_guarded(_import))

    exporting = commands.add_parser(
        "export", help="copy a model out as a directory, or as an archive when PATH ends in .tar[.gz|...] or .zip"
    )
    exporting.add_argument("tag", help="name:version or name[:latest]")
    exporting.add_argument("path", type=Path, help="a new directory or archive")
    exporting.set_defaults(func=_guarded(_export))
    return parser
