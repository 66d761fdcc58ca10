"""``Text``: a string from a request body of any content type, and back as text/plain."""

from __future__ import annotations

import codecs
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, header_param, read_body
from app.server.http_errors import BadInput, BadOutput

__all__ = ["Text"]

_STRING = {"type": "string"}


class Text(IODescriptor):
    """A ``str``: the body decoded as text, whatever its content type says (as BentoML's ``Text``).

    The charset is the request's (``text/plain; charset=latin-1``), else utf-8. The answer is
    ``text/plain; charset=utf-8``; an API that returns ``None`` answers an empty body.
    """

    media_types = ("text/plain", "*/*")
    accepts_empty_body = True  # the empty string

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
        if value is None:
            value = ""
        elif isinstance(value, (bytes, bytearray)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadOutput("The bytes returned for a Text output are not utf-8.", detail=str(exc)) from exc
        if not isinstance(value, str):
            raise BadOutput(f"A Text output must be a str, not {type(value).__name__}.")
        return Response(value, media_type="text/plain; charset=utf-8")

    def _take_sample(self, sample: Any, given: set[str]) -> str:
        if isinstance(sample, bytes):
            sample = sample.decode("utf-8")
        if not isinstance(sample, str):
            raise ValueError(f"Text.from_sample needs a str, not {type(sample).__name__}")
        return sample

    def spec(self) -> dict[str, Any]:
        return {"type": "text"}

    def openapi_example(self) -> Any:
        return self.sample

    def openapi_request_body(self) -> dict[str, Any]:
        content = {"text/plain": {"schema": dict(_STRING)}, "*/*": {"schema": dict(_STRING)}}
        return self._with_example(content, "text/plain")

    def openapi_responses(self) -> dict[str, Any]:
        return self._with_example({"text/plain": {"schema": dict(_STRING)}}, "text/plain")
