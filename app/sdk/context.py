"""Per-request and per-process context: the current service instance and request id."""

from __future__ import annotations

import contextvars
from typing import Any

_service: contextvars.ContextVar[Any] = contextvars.ContextVar("tiffin_service", default=None)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tiffin_request_id", default=None)
_process_service: Any = None


def get_current_service() -> Any:
    """The live service: the instance of an ``@service`` class, or the ``Service`` object.

    Works as a FastAPI dependency (``Depends(get_current_service)``) and as a plain call inside
    any mounted app's handler (Quart, Flask, Starlette).
    """
    current = _service.get()
    if current is None:
        current = _process_service
    if current is None:
        raise RuntimeError("No tiffin service is running in this process.")
    return current


def set_process_service(instance: Any) -> None:
    global _process_service
    _process_service = instance


def enter_service(instance: Any) -> contextvars.Token[Any]:
    return _service.set(instance)


def leave_service(token: contextvars.Token[Any]) -> None:
    _service.reset(token)


def request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)
