"""Import an object named ``package.module:Name`` or ``path/to/file.py:Name``, and name a class
so another process can import it back."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from typing import Any

_FROM_FILE = "__tiffin_loaded_from_file__"


class ImportFromStringError(ImportError):
    pass


def import_object(path: str) -> Any:
    module_part, sep, attrs = path.rpartition(":")
    if not sep or not module_part or not attrs:
        raise ImportFromStringError(f"{path!r}: expected 'package.module:Name' or 'file.py:Name'")
    if module_part.endswith(".py"):
        module = _load_file(Path(module_part), path)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise ImportFromStringError(f"{path!r}: cannot import module {module_part!r}: {exc}") from exc
    target: Any = module
    for attr in attrs.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise ImportFromStringError(f"{path!r}: {module_part} has no attribute {attrs!r}") from None
    return target


def _load_file(file: Path, path: str) -> Any:
    file = file.resolve()
    if not file.is_file():
        raise ImportFromStringError(f"{path!r}: no such file {file}")
    for module in list(sys.modules.values()):
        loaded = getattr(module, "__file__", None)
        if loaded and Path(loaded).resolve() == file:
            return module
    name = file.stem if file.stem not in sys.modules else f"_tiffin_file_{abs(hash(str(file)))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportFromStringError(f"{path!r}: cannot load {file}")
    # Like ``python file.py``: the file's own directory is importable, for its sibling modules.
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    module = importlib.util.module_from_spec(spec)
    setattr(module, _FROM_FILE, True)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def path_of(obj: Any) -> str:
    """An import path for a module-level class or function that another process can load.

    The module's name when the import system can find it from ``sys.path``; otherwise (a script,
    a file loaded by path) the file's absolute path.
    """
    qualname = obj.__qualname__
    if "<locals>" in qualname:
        raise ValueError(f"{qualname} is defined inside a function; another process cannot import it")
    module = sys.modules.get(obj.__module__)
    file = getattr(module, "__file__", None)
    if obj.__module__ != "__main__" and not getattr(module, _FROM_FILE, False) and _on_path(obj.__module__):
        return f"{obj.__module__}:{qualname}"
    if file is None:
        raise ValueError(f"cannot tell where {qualname} is defined")
    return f"{Path(file).resolve()}:{qualname}"


def _on_path(name: str) -> bool:
    top = name.partition(".")[0]
    return top in sys.builtin_module_names or importlib.machinery.PathFinder.find_spec(top) is not None
