"""Signatures checked when a service is defined or loaded, not when the first request comes.

What tiffin cannot call is refused with the file and line, the function and what is wrong, as a
``SignatureError`` (a ``TypeError``), which stops ``tiffin serve``/``api`` with exit code 2
before any worker forks:

- an API is called with its input (one positional value, or keyword arguments for a descriptor
  with named fields) and, if it asks for one, a ``Context`` by keyword: a parameter named
  ``ctx`` or ``context``, one annotated ``Context``, or (as BentoML does) an unannotated second
  parameter without a default. Any other parameter it requires is one tiffin cannot supply;
- ``on_startup``/``on_shutdown`` hooks take the context or nothing, ``on_deployment`` hooks
  take nothing;
- a runner method served by a sidecar is called with one value, and the ``Runnable`` is made
  with the runner's init params.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from app.io.annotations import type_hints
from app.sdk.context import Context

if TYPE_CHECKING:
    from runners import Runner

__all__ = [
    "CONTEXT_NAMES",
    "SignatureError",
    "api_context_param",
    "check_runner",
    "context_parameters",
    "hook_takes_context",
    "where",
]

CONTEXT_NAMES = ("ctx", "context")
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class SignatureError(TypeError):
    """A function tiffin cannot call as declared; ``str()`` names the file, the function and the problem."""


def where(func: Any) -> str:
    """``path/to/file.py:12`` for a function (relative to the current directory when below it)."""
    func = inspect.unwrap(getattr(func, "__func__", func))
    code = getattr(func, "__code__", None)
    if code is None:
        return getattr(func, "__module__", None) or "<unknown>"
    path = code.co_filename
    try:
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            path = relative
    except ValueError:
        pass
    return f"{path}:{code.co_firstlineno}"


def _describe(func: Any) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def _parameters(func: Callable[..., Any], *, skip_self: bool) -> list[inspect.Parameter]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"{where(func)}: {_describe(func)}: its signature cannot be read ({exc})") from None
    if skip_self:
        if not params or params[0].kind not in _POSITIONAL:
            raise SignatureError(f"{where(func)}: {_describe(func)}: a method needs 'self' as its first parameter")
        params = params[1:]
    return params


def _is_context_hint(hint: Any) -> bool:
    if hint is Context or (isinstance(hint, type) and issubclass(hint, Context)):
        return True
    return isinstance(hint, str) and hint.rsplit(".", 1)[-1].strip("'\"") == "Context"


def _required(param: inspect.Parameter) -> bool:
    return param.default is param.empty and param.kind not in _VAR


def _names(params: Sequence[inspect.Parameter]) -> str:
    return ", ".join(p.name for p in params)


def context_parameters(func: Callable[..., Any]) -> list[str]:
    """The parameters that ask for the context by name (``ctx``, ``context``) or annotation (``Context``)."""
    hints = type_hints(func)
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.name in CONTEXT_NAMES or _is_context_hint(hints.get(p.name, p.annotation))]


def api_context_param(
    func: Callable[..., Any],
    *,
    api: str,
    arguments: Sequence[str] | None,
    is_method: bool = False,
    names_known: bool = True,
) -> str | None:
    """The parameter the ``Context`` goes to (by keyword), or ``None``.

    ``SignatureError`` if tiffin cannot call ``func``.

    ``arguments`` are the keyword arguments the input decodes to (a descriptor with named
    fields), or ``None`` when the input is one positional value. Keyword arguments whose names
    the descriptor does not tell (``names_known=False``) are not checked, only the context.
    """
    if arguments is not None and not names_known:
        named = context_parameters(func)
        if len(named) > 1:
            raise SignatureError(f"{where(func)}: API {api!r}: has two context parameters ({', '.join(named)})")
        return named[0] if named else None
    params = _parameters(func, skip_self=is_method)
    hints = type_hints(func)
    head = f"{where(func)}: API {api!r} (function {_describe(func)})"

    def context_like(param: inspect.Parameter) -> bool:
        return param.name in CONTEXT_NAMES or _is_context_hint(hints.get(param.name, param.annotation))

    takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    if arguments is None:
        positional = [p for p in params if p.kind in _POSITIONAL]
        if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params):
            raise SignatureError(f"{head}: takes no parameter for its input; it is called with the input value")
        rest = [p for p in params if p.kind not in _VAR and (not positional or p is not positional[0])]
    else:
        missing = [name for name in arguments if name not in {p.name for p in params if p.kind not in _VAR}]
        if missing and not takes_var_kw:
            raise SignatureError(
                f"{head}: takes no parameter for {', '.join(map(repr, missing))}; "
                f"it is called with keyword arguments {', '.join(arguments)}"
            )
        positional_only = [p for p in params if p.kind is p.POSITIONAL_ONLY and p.name in arguments]
        if positional_only:
            raise SignatureError(f"{head}: {_names(positional_only)} must not be positional-only (they go by keyword)")
        rest = [p for p in params if p.kind not in _VAR and p.name not in arguments]

    contexts = [p for p in rest if context_like(p)]
    if not contexts and arguments is None and rest and _required(rest[0]) and rest[0].kind in _POSITIONAL:
        hint = hints.get(rest[0].name, rest[0].annotation)
        if hint is inspect.Parameter.empty:
            contexts = [rest[0]]  # BentoML's convention: an API's second parameter is the context
    if len(contexts) > 1:
        raise SignatureError(f"{head}: has two context parameters ({_names(contexts)}); it takes one")
    context = contexts[0] if contexts else None
    if context is not None and context.kind is context.POSITIONAL_ONLY:
        raise SignatureError(f"{head}: its context parameter {context.name!r} must not be positional-only")
    unsupplied = [p for p in rest if p is not context and _required(p)]
    if unsupplied:
        supplied = "its input" if arguments is None else f"keyword arguments {', '.join(arguments)}"
        raise SignatureError(
            f"{head}: requires {_names(unsupplied)}, which tiffin does not supply; "
            f"it is called with {supplied} and, if it asks for one, a Context"
        )
    return context.name if context is not None else None


def hook_takes_context(func: Callable[..., Any], *, kind: str, is_method: bool = False) -> bool:
    """Whether a lifecycle hook takes the context; ``SignatureError`` if it requires more than tiffin passes."""
    if not callable(func):
        raise SignatureError(f"@{kind} decorates a function, not a {type(func).__name__}")
    params = [p for p in _parameters(func, skip_self=is_method) if p.kind is not p.VAR_KEYWORD]
    head = f"{where(func)}: {kind} hook {_describe(func)}"
    required = [p for p in params if _required(p)]
    if kind == "on_deployment":
        if required:
            raise SignatureError(f"{head}: requires {_names(required)}; an on_deployment hook is called with nothing")
        return False
    if len(required) > 1 or any(p.kind is p.KEYWORD_ONLY for p in required):
        raise SignatureError(f"{head}: requires {_names(required)}; it is called with the context or nothing")
    return any(p.kind in _POSITIONAL or p.kind is p.VAR_POSITIONAL for p in params)


def check_runner(runner: Runner) -> None:
    """``SignatureError`` if a sidecar could not make the runner's ``Runnable`` or call one of its methods."""
    if runner.is_local:
        return  # called in this process, with whatever arguments the code passes
    cls = runner.runnable_class
    try:
        inspect.signature(cls).bind(**runner.runnable_init_params)
    except TypeError as exc:
        params = ", ".join(sorted(runner.runnable_init_params)) or "no init params"
        raise SignatureError(
            f"{where(cls.__init__)}: runner {runner.name!r}: {cls.__qualname__} cannot be made with {params} ({exc})"
        ) from None
    for name, method_config in runner.methods.items():
        if not method_config.config.batchable:
            continue  # called with whatever arguments the caller passes, as in this process
        method = getattr(cls, name)
        bound = isinstance(inspect.getattr_static(cls, name), (staticmethod, classmethod))
        try:
            inspect.signature(method).bind(*([None] if bound else [None, None]))
        except TypeError as exc:
            raise SignatureError(
                f"{where(method)}: runner {runner.name!r} method {name!r} ({_describe(method)}): "
                f"a batchable method is called with the merged rows as its first argument ({exc})"
            ) from None
        except ValueError:
            continue  # a builtin without a signature: nothing to check
