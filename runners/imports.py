"""Load the Python objects a config, a spec or the command line names, and name a class so
another process can import it back (``path_of``).

A target is ``path/to/file.py:NAME`` or ``package.module:NAME``; ``NAME`` may be dotted
(``module:Service.app``).

A file target is loaded as a module once per resolved path. Its directory is appended to
``sys.path`` so that its sibling imports work. The module is registered in ``sys.modules``
before it runs, as dataclasses and FastAPI's annotation resolution need, under the name a plain
``import`` of the file would give when that import resolves to this very file (so a sibling
that imports it gets the same module, not a second copy), else under a stable name unique to
the path.

A relative file path is looked up in each of ``base_dirs`` in order (the current directory
when none are given). For a module target, ``base_dirs`` are appended to ``sys.path`` first, as
``python -m`` would do for the current directory.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NamedTuple

__all__ = [
    "ImportTarget",
    "ImportTargetError",
    "file_loaded",
    "import_target",
    "is_import_target",
    "parse_target",
    "path_of",
]

_FROM_FILE = "__tiffin_loaded_from_file__"  # set on modules loaded by path: ``path_of`` names them by path

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

_lock = threading.RLock()
_file_modules: dict[Path, ModuleType] = {}


class ImportTargetError(ValueError):
    """A target that cannot be imported; ``str()`` is one sentence naming the target."""

    def __init__(self, spec: str, reason: str) -> None:
        self.spec = spec
        self.reason = reason
        super().__init__(f"cannot import {spec!r}: {reason}")


class ImportTarget(NamedTuple):
    kind: Literal["file", "module"]
    location: str  # the file path as written, or the dotted module name
    attribute: str  # dotted


def parse_target(spec: str) -> ImportTarget:
    """Split ``spec`` into its parts, checking only its form (nothing is imported)."""
    location, sep, attribute = spec.rpartition(":")
    if not sep or not location.strip() or not _DOTTED.fullmatch(attribute):
        raise ImportTargetError(spec, "expected FILE.py:NAME or package.module:NAME")
    if location.endswith(".py"):
        return ImportTarget("file", location, attribute)
    if _DOTTED.fullmatch(location):
        return ImportTarget("module", location, attribute)
    raise ImportTargetError(
        spec, f"{location!r} is neither a .py file nor a dotted module name"
    )


def is_import_target(text: str) -> bool:
    """Whether ``text`` has the form of a target (for telling one apart from a config path)."""
    try:
        parse_target(text)
    except ImportTargetError:
        return False
    return True


def import_target(spec: str, *, base_dirs: Sequence[Path] = ()) -> Any:
    """Import ``spec`` and return the object it names; raise ``ImportTargetError`` if that fails."""
    target = parse_target(spec)
    dirs = [Path(d) for d in base_dirs] or [Path.cwd()]
    with _lock:
        if target.kind == "file":
            module = _load_file(spec, _find_file(spec, target.location, dirs))
        else:
            module = _load_module(spec, target.location, dirs)
    return _get_attribute(spec, module, target.attribute)


def file_loaded(location: str) -> bool:
    """Whether the absolute ``location`` is a file ``import_target`` has already loaded in this process."""
    path = Path(location).expanduser()
    if not path.is_absolute():
        return False
    with _lock:
        return path.resolve() in _file_modules


def _find_file(spec: str, location: str, dirs: Sequence[Path]) -> Path:
    path = Path(location).expanduser()
    candidates = [path] if path.is_absolute() else [d / path for d in dirs]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    if path.is_absolute():
        raise ImportTargetError(spec, "file not found")
    searched = ", ".join(str(d) for d in dirs)
    raise ImportTargetError(spec, f"file not found (searched {searched})")


def _load_file(spec: str, path: Path) -> ModuleType:
    cached = _file_modules.get(path)
    if cached is not None:
        return cached
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.append(directory)
    name = _module_name_for(path)
    existing = sys.modules.get(name)
    if existing is not None:  # a sibling already imported it by its plain name
        _file_modules[path] = existing
        return existing
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportTargetError(spec, "the file cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    setattr(module, _FROM_FILE, True)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)  # so that a fixed file can be tried again
        raise ImportTargetError(spec, _raised(exc)) from exc
    _file_modules[path] = module
    return module


def _module_name_for(path: Path) -> str:
    stem = path.stem
    if stem.isidentifier():
        try:
            found = importlib.util.find_spec(stem)
        except (ImportError, ValueError):
            found = None
        if found is not None and found.origin and Path(found.origin).resolve() == path:
            return stem
    digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:10]
    safe_stem = re.sub(r"\W", "_", stem)
    return f"_tiffin_file_{safe_stem}_{digest}"


def _load_module(spec: str, name: str, dirs: Sequence[Path]) -> ModuleType:
    for directory in map(str, dirs):
        if directory not in sys.path:
            sys.path.append(directory)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise ImportTargetError(spec, f"module {exc.name!r} not found") from exc
        raise ImportTargetError(spec, _raised(exc)) from exc
    except (Exception, SystemExit) as exc:
        raise ImportTargetError(spec, _raised(exc)) from exc


def _get_attribute(spec: str, module: ModuleType, attribute: str) -> Any:
    obj: Any = module
    done: list[str] = []
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            owner = "the module" if not done else repr(".".join(done))
            reason = f"{owner} has no attribute {part!r}"
            public = [name for name in dir(obj) if not name.startswith("__")]
            close = difflib.get_close_matches(part, public, n=1)
            if close:
                reason += f" (did you mean {close[0]!r}?)"
            raise ImportTargetError(spec, reason) from None
        except Exception as exc:  # a property or __getattr__ that fails
            raise ImportTargetError(spec, _raised(exc)) from exc
        done.append(part)
    return obj


def _raised(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    described = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"importing it raised {described}"


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
