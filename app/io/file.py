"""``File``: raw bytes of any (or one declared) media type, and back."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, check_encoding, media_type_of, read_body
from app.server.http_errors import BadInput, BadOutput, ServiceError

__all__ = ["File"]

OCTET_STREAM = "application/octet-stream"
MULTIPART = "multipart/form-data"
_BINARY = {"type": "string", "format": "binary"}


class File(IODescriptor):
    """The request body as ``bytes``.

    ``mime_type`` (``"image/png"``, or a range like ``"image/*"``) restricts what is taken
    (415 otherwise) and is the response's content type. A ``multipart/form-data`` upload, as
    browsers and ``curl -F`` send it, gives the bytes of its first file.
    ``File.from_sample("doc.pdf")`` takes the media type from the file's name.
    """

    accepts_empty_body = True  # an empty file

    def __init__(self, mime_type: str | None = None) -> None:
        self.mime_type = mime_type.lower() if mime_type else None
        self.media_types = (self.mime_type,) if self.mime_type else ("*/*",)

    async def from_request(self, request: Request) -> bytes:
        media_type = media_type_of(request.headers.get("content-type"))
        if media_type == MULTIPART and not (self.mime_type or "").startswith("multipart/"):
            return await self._first_upload(request)
        self.check_media_type(request)
        return await read_body(request)

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        return Response(_as_bytes(value), media_type=self._response_type())

    def _take_sample(self, sample: Any, given: set[str]) -> bytes:
        if isinstance(sample, (str, os.PathLike)):
            path = Path(sample)
            if "mime_type" not in given:
                guessed = mimetypes.guess_type(path.name)[0]
                if guessed:
                    self.mime_type = guessed.lower()
                    self.media_types = (self.mime_type,)
            return path.read_bytes()
        try:
            return _as_bytes(sample)
        except BadOutput as exc:
            raise ValueError(f"File.from_sample needs a path, bytes or a readable file: {exc.message}") from None

    def spec(self) -> dict[str, Any]:
        return {"type": "file", "mime_type": self.mime_type}

    def openapi_request_body(self) -> dict[str, Any]:
        direct = {self.mime_type: {"schema": dict(_BINARY)}} if self.mime_type else {
            OCTET_STREAM: {"schema": dict(_BINARY)},
            "*/*": {"schema": dict(_BINARY)},
        }
        return {
            **direct,
            MULTIPART: {"schema": {"type": "object", "properties": {"file": dict(_BINARY)}, "required": ["file"]}},
        }

    def openapi_responses(self) -> dict[str, Any]:
        return {self._response_type(): {"schema": dict(_BINARY)}}

    def _response_type(self) -> str:
        return self.mime_type if self.mime_type and "*" not in self.mime_type else OCTET_STREAM

    async def _first_upload(self, request: Request) -> bytes:
        check_encoding(request)
        try:
            form = await request.form()
        except ServiceError:  # e.g. PayloadTooLarge from the body-size limit
            raise
        except Exception as exc:  # MultiPartException and friends: a malformed body
            raise BadInput("The multipart body could not be parsed.", detail=str(exc)) from exc
        try:
            upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
            if upload is None:
                raise BadInput("The multipart body holds no file.", detail="Send the file as a form field.")
            if self.mime_type:
                self.check_content_type(upload.content_type)
            return await upload.read()
        finally:
            await form.close()


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise BadOutput(f"A File output must be bytes or a readable file, not {type(value).__name__}.")
