"""Errors raised by runners, on either side of the sidecar hop.

Each carries the HTTP status it maps to, so the runner server and the API server answer
the same way, and they cross the wire as JSON (``to_dict``/``from_dict``), never pickled.

An exception raised by the model's own code travels as the RunnerError it maps to (400 for
``ValueError``, ``TypeError``, ``KeyError`` and ``IndexError``, 500 for the rest) plus what was
raised (``raised``: its type's module and name, and its message). The API worker's error is then of
a class with that name and module, a subclass of the RunnerError and, for a built-in exception, of
that built-in too, and ``str()`` of it is the original message: ``except ValueError`` and the
traceback read as they would with the model in the same process. No class is imported.

    RunnerError                   500  base; an exception inside the model
    ├── InvalidInput              400  undecodable body, wrong shape for the model
    ├── UnknownMethod             404  the runner has no such method
    ├── UnsupportedMediaType      415  a content type the runner does not take
    ├── RunnerOverloaded          503  the batching queue is full (has retry_after)
    ├── RunnerUnavailable         503  the sidecar cannot be reached, or is not ready
    └── DeadlineExceeded          504  the caller's deadline passed before the work was done
"""

from __future__ import annotations

import builtins
import functools
import re
from typing import Any, NamedTuple

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_MESSAGE_LIMIT = 2000


class Raised(NamedTuple):
    """What the model's code raised: its type's module and qualified name, and ``str()`` of it."""

    module: str
    name: str
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        kind = type(exc)
        return cls(kind.__module__, kind.__qualname__, str(exc)[:_MESSAGE_LIMIT])


class RunnerError(Exception):
    status_code: int = 500
    message: str = "The runner failed to compute the result."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: Any = None,
        retry_after: float | None = None,
        raised: Raised | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.detail = detail
        self.retry_after = retry_after
        self.raised = raised
        super().__init__(self.message)

    def copy(self) -> RunnerError:
        """A fresh exception like this one (raising one object for many callers splices tracebacks)."""
        return type(self)(self.message, detail=self.detail, retry_after=self.retry_after, raised=self.raised)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "type": _kind(type(self)).__name__}
        if self.detail is not None:
            body["detail"] = self.detail
        if self.raised is not None:
            body["raised"] = {"module": self.raised.module, "type": self.raised.name, "message": self.raised.message}
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any], status_code: int, retry_after: float | None = None) -> RunnerError:
        kind = _BY_NAME.get(str(body.get("type")))
        if kind is None:
            kind = _BY_STATUS.get(status_code, RunnerError)
        raised = _raised(body.get("raised"))
        if raised is not None:
            kind = _remote_class(kind, raised.module, raised.name)
        message = str(body.get("error") or kind.message)
        return kind(message, detail=body.get("detail"), retry_after=retry_after, raised=raised)


def _raised(data: Any) -> Raised | None:
    if not isinstance(data, dict):
        return None
    module, name, message = data.get("module"), data.get("type"), data.get("message")
    if not (isinstance(module, str) and isinstance(name, str) and isinstance(message, str)):
        return None
    if not (_NAME.fullmatch(module) and _NAME.fullmatch(name) and len(module) + len(name) < 300):
        return None
    return Raised(module, name, message[:_MESSAGE_LIMIT])


def _kind(cls: type[RunnerError]) -> type[RunnerError]:
    """The RunnerError class a class made by ``_remote_class`` stands for."""
    kind: type[RunnerError] = getattr(cls, "_runner_kind", cls)
    return kind


def _remote_str(self: RunnerError) -> str:
    return self.raised.message if self.raised is not None else self.message


@functools.lru_cache(maxsize=256)
def _remote_class(kind: type[RunnerError], module: str, name: str) -> type[RunnerError]:
    """A class named like what the runner raised: ``kind`` and, for a built-in exception, that built-in."""
    bases: tuple[type, ...] = (kind,)
    builtin = getattr(builtins, name, None) if module == "builtins" else None
    if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__name__ in _BUILTINS:
        bases = (kind, builtin)
    namespace = {"__module__": module, "__qualname__": name, "__str__": _remote_str, "_runner_kind": kind}
    return type(name.rpartition(".")[2], bases, namespace)


class InvalidInput(RunnerError):
    status_code = 400
    message = "The runner could not use the input."


class UnknownMethod(RunnerError):
    status_code = 404
    message = "The runner has no such method."


class UnsupportedMediaType(RunnerError):
    status_code = 415
    message = "The runner does not accept this content type."


class RunnerOverloaded(RunnerError):
    status_code = 503
    message = "The runner's queue is full; retry later."


class RunnerUnavailable(RunnerError):
    status_code = 503
    message = "The runner is unavailable."


class DeadlineExceeded(RunnerError):
    status_code = 504
    message = "The request's deadline passed before the runner computed it."


_KINDS = (
    RunnerError,
    InvalidInput,
    UnknownMethod,
    UnsupportedMediaType,
    RunnerOverloaded,
    RunnerUnavailable,
    DeadlineExceeded,
)
_BY_NAME = {k.__name__: k for k in _KINDS}
# Built-in exceptions a remote error may also be an instance of (their layout is Exception's).
_BUILTINS = frozenset(
    {
        "ArithmeticError", "AssertionError", "AttributeError", "BufferError", "EOFError", "FloatingPointError",
        "ImportError", "IndexError", "KeyError", "LookupError", "MemoryError", "ModuleNotFoundError",
        "NameError", "NotImplementedError", "OverflowError", "RecursionError", "ReferenceError", "RuntimeError",
        "StopIteration", "TypeError", "UnicodeError", "ValueError", "ZeroDivisionError",
    }
)
_BY_STATUS = {
    400: InvalidInput,
    404: UnknownMethod,
    415: UnsupportedMediaType,
    503: RunnerUnavailable,
    504: DeadlineExceeded,
}
