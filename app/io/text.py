"""``Text``: a string from a text/plain body, and back."""

from __future__ import annotations

import codecs
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, header_param, read_body
from app.server.http_errors import BadInput

__all__ = ["Text"]


class Text(IODescriptor):
    """A ``str`` decoded from ``text/plain`` (utf-8 unless the request names a charset)."""

    media_types = ("text/plain",)

    def __init__(self, *, sse: bool = False) -> None:
        self.sse = sse
        """A streaming API answers Server-Sent Events, whatever the request's ``Accept``."""

    async def from_request(self, request: Request) -> str:
        self.check_media_type(request)
        charset = header_param(request.headers.get("content-type"), "charset") or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError as exc:
            raise BadInput(f"The request names an unknown charset {charset!r}.", detail=str(exc)) from exc
        body = await read_body(request)
        try:
            return body.decode(charset)
        except UnicodeDecodeError as exc:
            raise BadInput(f"The request body is not valid {charset} text.", detail=str(exc)) from exc

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8")
        if not isinstance(value, str):
            raise TypeError(f"A Text output must be a str, not {type(value).__name__}.")
        return Response(value, media_type="text/plain; charset=utf-8")

    def openapi_request_body(self) -> dict[str, Any]:
        return {"text/plain": {"schema": {"type": "string"}}}

    def openapi_responses(self) -> dict[str, Any]:
        return {"text/plain": {"schema": {"type": "string"}}}
