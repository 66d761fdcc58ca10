"""Configuration problems as one line each: ``<file>: <dotted.key>: <problem> (got <value>)``.

``ConfigError`` is what the loader raises. ``KeyedError`` is raised inside model validators to
point at a key below the object being validated. ``from_validation_error`` turns pydantic's
errors into ``ConfigError``: file keys instead of pydantic's locations, short messages for the
common mistakes, and a "did you mean" for misspelt keys.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["NO_VALUE", "ConfigError", "KeyedError", "from_validation_error"]

NO_VALUE: Any = object()


class ConfigError(Exception):
    """An invalid configuration. ``str()`` is one line; ``errors`` holds every problem found."""

    def __init__(
        self,
        source: str,
        key: str,
        problem: str,
        value: Any = NO_VALUE,
        *,
        errors: Sequence[ConfigError] = (),
    ) -> None:
        self.source = source  # a file, "environment variable NAME" or "command line"
        self.key = key
        self.problem = problem
        self.value = value
        self.errors: list[ConfigError] = list(errors) or [self]
        line = ": ".join(part for part in (source, key, problem) if part)
        if value is not NO_VALUE:
            line += f" (got {_brief(value)})"
        super().__init__(" ".join(line.split()))


class KeyedError(ValueError):
    """Raised in a validator to blame a key below the validated object (``loc`` is appended)."""

    def __init__(self, loc: tuple[str | int, ...], message: str, value: Any = NO_VALUE) -> None:
        self.loc = loc
        self.message = message
        self.value = value
        super().__init__(".".join(map(str, loc)) + ": " + message if loc else message)


def from_validation_error(
    exc: ValidationError, root: type[BaseModel], source_of: Callable[[str], str]
) -> ConfigError:
    """One ``ConfigError`` for all of ``exc``'s errors; ``source_of(key)`` names their origin."""
    problems = [_one_error(error, root, source_of) for error in exc.errors(include_url=False)]
    # a misspelt key also makes the right one "missing": the unknown key is the better lead
    problems.sort(key=lambda problem: not problem.problem.startswith("unknown key"))
    first = problems[0]
    return ConfigError(first.source, first.key, first.problem, first.value, errors=problems)


def _one_error(error: Any, root: type[BaseModel], source_of: Callable[[str], str]) -> ConfigError:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value: Any = error.get("input", NO_VALUE)
    problem = error["msg"]
    cause = ctx.get("error")
    if isinstance(cause, KeyedError):
        loc += cause.loc
        problem, value = cause.message, cause.value
    elif kind == "value_error" and cause is not None:
        problem = str(cause)  # without pydantic's "Value error, " prefix
    elif kind == "union_tag_invalid":
        loc += ("type",)
        problem, value = f"unknown type; expected one of {ctx['expected_tags']}", ctx["tag"]
    elif kind == "union_tag_not_found":
        loc += ("type",)
        problem, value = "missing required key", NO_VALUE
    elif kind == "missing":
        problem, value = "missing required key", NO_VALUE
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        problem = "should be a mapping of keys"
    path, owner = _walk(root, loc)
    if kind == "extra_forbidden":
        problem, value = "unknown key", NO_VALUE
        if owner is not None:
            keys = [field.alias or name for name, field in owner.model_fields.items()]
            close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
            if close:
                problem += f" (did you mean {close[0]!r}?)"
    key = ".".join(map(str, path))
    return ConfigError(source_of(key), key, problem, value)


def _walk(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[Any], type[BaseModel] | None]:
    """Follow ``loc`` through the model classes. Drops the union tags pydantic inserts into
    locations (``apis.0.input.ndarray.dtype``), and returns the model holding the last key."""
    node: Any = root
    path: list[Any] = []
    owner: type[BaseModel] | None = None
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            owner = node
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            node = field.annotation if field is not None else None
        elif get_origin(node) in (list, dict):
            owner, node = None, get_args(node)[-1]
        elif get_origin(node) in (Union, types.UnionType):
            member = next((m for m in get_args(node) if _tag_of(m) == part), None)
            if member is not None:
                node = member
                continue
            owner, node = None, None
        else:
            owner, node = None, None
        path.append(part)
    return path, owner


def _unwrap(node: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` → ``X``; other unions stay."""
    while True:
        origin = get_origin(node)
        if origin is Annotated:
            node = get_args(node)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(node) if a is not type(None)]
            if len(members) != 1:
                return node
            node = members[0]
        else:
            return node


def _tag_of(member: Any) -> Any:
    if isinstance(member, type) and issubclass(member, BaseModel) and "type" in member.model_fields:
        return member.model_fields["type"].default
    return None


def _brief(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
