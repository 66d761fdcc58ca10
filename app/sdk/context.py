"""Context: what an API or a lifecycle hook knows of the request, the response and the worker.

    @svc.api(input=Text(), output=Text())
    def echo(text: str, ctx: Context) -> str:
        ctx.request.headers["user-agent"]; ctx.request.query_params; ctx.request.cookies
        ctx.response.status_code = 202
        ctx.response.headers["x-model"] = "v2"
        ctx.response.set_cookie("seen", "1", max_age=60)
        ctx.state["db"]          # what the on_startup hooks put there, shared by this worker
        return text

An API receives a fresh ``Context`` per request (its ``response`` is that request's);
``on_startup``/``on_shutdown`` hooks receive one without a request. ``state`` is one dict per
service and worker process.

The module also keeps the current service and request id in context variables, for
``get_current_service()`` and the logs.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.datastructures import MutableHeaders

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["Context", "Cookie", "ResponseContext", "get_current_service"]

_service: contextvars.ContextVar[Any] = contextvars.ContextVar("tiffin_service", default=None)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tiffin_request_id", default=None)
_process_service: Any = None


@dataclass
class Cookie:
    """A cookie the response sets (``Set-Cookie``), as starlette's ``Response.set_cookie`` takes it."""

    key: str
    value: str = ""
    max_age: int | None = None
    expires: int | str | None = None
    path: str | None = "/"
    domain: str | None = None
    secure: bool = False
    httponly: bool = False
    samesite: Literal["lax", "strict", "none"] | None = "lax"


@dataclass
class ResponseContext:
    """What the API sets on its answer; applied over what the output descriptor made."""

    status_code: int = 200
    headers: MutableHeaders = field(default_factory=MutableHeaders)
    cookies: list[Cookie] = field(default_factory=list)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: int | str | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        self.cookies.append(Cookie(key, value, max_age, expires, path, domain, secure, httponly, samesite))

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None) -> None:
        self.cookies.append(Cookie(key, "", max_age=0, expires=0, path=path, domain=domain))

    def apply(self, response: Response) -> Response:
        """``response`` with this status, these headers (replacing the descriptor's) and cookies."""
        if self.status_code != 200:
            response.status_code = int(self.status_code)
        names = {name.lower() for name in self.headers.keys()} - {"content-length"}  # the body's own
        if names:
            kept = [(k, v) for k, v in response.raw_headers if k.decode("latin-1").lower() not in names]
            response.raw_headers = kept + [(k, v) for k, v in self.headers.raw if k.decode("latin-1") in names]
        for cookie in self.cookies:
            response.set_cookie(
                cookie.key,
                cookie.value,
                max_age=cookie.max_age,
                expires=cookie.expires,
                path=cookie.path,
                domain=cookie.domain,
                secure=cookie.secure,
                httponly=cookie.httponly,
                samesite=cookie.samesite,
            )
        return response


class Context:
    """The request being served (``request``, ``request_id``), its ``response``, the worker's ``state``."""

    def __init__(self, state: dict[str, Any], request: Request | None = None) -> None:
        self.state = state
        self._request = request
        self.response = ResponseContext()

    @property
    def request(self) -> Request:
        """The HTTP request (starlette's): ``headers``, ``query_params``, ``cookies``, ``client``, ``url``."""
        if self._request is None:
            raise RuntimeError("This context has no request: lifecycle hooks run outside of any request.")
        return self._request

    @property
    def request_id(self) -> str | None:
        """The request's ``X-Request-ID`` (the caller's, or the one the server made)."""
        if self._request is not None:
            rid = self._request.scope.get("state", {}).get("request_id")
            if rid is not None:
                return str(rid)
        return request_id()

    @property
    def client_address(self) -> str | None:
        """The caller's address (host), as the server saw it."""
        client = self._request.client if self._request is not None else None
        return client.host if client is not None else None

    def __repr__(self) -> str:
        where = f"{self._request.method} {self._request.url.path}" if self._request is not None else "no request"
        return f"<Context {where}, state keys={sorted(self.state)}>"


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
