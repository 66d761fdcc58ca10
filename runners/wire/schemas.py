"""pydantic models on the wire: sent as data, rebuilt as the declared class on the other side.

A model travels as ``[import path, fields]``: the path from ``runners.imports.path_of`` (a
module, or the absolute path of the file that defines the class), the fields from
``model_dump()``. The receiving side resolves the path (once per path): a module is imported, a
file only if this process already loaded it (the runner's own runnable file, the API's service
file), since a script on disk need not be safe to run. The class is used only if it is a pydantic
``BaseModel`` subclass, and the value rebuilt with ``model_validate``, so the class's own
validation runs there too. Nothing is unpickled; importing a module runs its code, which must
already be on the receiving machine (README, "What the runner hop trusts").
"""

from __future__ import annotations

import functools
from typing import Any

from runners.errors import InvalidInput

__all__ = ["from_parts", "is_model", "jsonable", "to_parts"]


def is_model(value: Any) -> bool:
    try:
        import pydantic
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return False
    return isinstance(value, pydantic.BaseModel)


@functools.lru_cache(maxsize=256)
def _path(cls: type) -> str:
    from runners.imports import path_of
    from runners.wire.values import UnsendableValue

    try:
        return path_of(cls)
    except ValueError as exc:
        raise UnsendableValue(
            f"the pydantic model class {cls.__qualname__} cannot be imported by the runner: {exc}"
        ) from None


def to_parts(value: Any) -> list[Any]:
    cls: Any = type(value)
    return [_path(cls), value.model_dump()]


def jsonable(value: Any) -> Any:
    """A leaf of a model's fields that msgpack has no type for, as pydantic would write it in JSON."""
    import pydantic_core

    from runners.wire.values import UnsendableValue

    try:
        return pydantic_core.to_jsonable_python(value)
    except pydantic_core.PydanticSerializationError:
        raise UnsendableValue(
            f"a {type(value).__qualname__} in a pydantic model is not a value the hop carries"
        ) from None


@functools.lru_cache(maxsize=256)
def model_class(path: str) -> type[Any]:
    """The pydantic model class ``path`` names; ``InvalidInput`` if it is not one or does not import."""
    import pydantic

    from runners.imports import ImportTargetError, file_loaded, import_target, parse_target

    try:
        target = parse_target(path)
        if target.kind == "file" and not file_loaded(target.location):
            # A script on disk need not be safe to run: only files this process loaded itself (its
            # runnable's, its service's) are named by path; anything else must be an importable module.
            raise ImportTargetError(path, "a file this process has not loaded (name the model by its module)")
        cls = import_target(path)
    except ImportTargetError as exc:
        raise InvalidInput("A pydantic model's class cannot be imported here.", detail=str(exc)) from None
    if not (isinstance(cls, type) and issubclass(cls, pydantic.BaseModel)):
        raise InvalidInput("A model in the body names a class that is not a pydantic model.", detail=path)
    return cls


def from_parts(parts: Any) -> Any:
    import pydantic

    if not (isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str) and isinstance(parts[1], dict)):
        raise InvalidInput("A pydantic model in the body is not [class path, fields].")
    cls = model_class(parts[0])
    try:
        return cls.model_validate(parts[1])
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise InvalidInput(f"A {cls.__name__} in the body does not validate.", detail=errors) from None
