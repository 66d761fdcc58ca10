"""``Multipart``: a multipart/form-data body whose named parts are decoded by their own descriptors.

    @svc.api(input=Multipart(image=Image(), meta=JSON()), output=Multipart(mask=Image(), score=JSON()))
    def segment(image, meta): ...                  # called as segment(image=..., meta=...)

Each part goes through its descriptor's ``from_request`` as if it were a request of its own:
a file part with its own Content-Type, a plain form field with none (so ``-F arr='[1, 2]'``
reads as JSON and ``-F text=hello`` as text). A part's bad input is 400 naming the part; a
missing part is 400 naming what was expected and what came. The answer is a multipart body
with one part per declared name, each encoded by its descriptor; binary parts carry a filename.
"""

from __future__ import annotations

import mimetypes
import sys
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from app.io.base import IODescriptor
from app.server.http_errors import BadInput, BadOutput, PayloadTooLarge, ServiceError, UnsupportedMediaType

__all__ = ["Multipart", "decode_part"]

MULTIPART = "multipart/form-data"


class Multipart(IODescriptor):
    """A ``dict`` of part name → value; the API is called with the parts as keyword arguments."""

    media_types = (MULTIPART,)
    default_when_missing = False
    as_kwargs = True

    def __init__(self, **parts: IODescriptor) -> None:
        if not parts:
            raise ValueError("Multipart needs at least one part, e.g. Multipart(image=Image())")
        for name, descriptor in parts.items():
            if not name.isidentifier():
                raise ValueError(f"Multipart part names are the API's keyword arguments; {name!r} is not an identifier")
            if isinstance(descriptor, Multipart):
                raise TypeError(f"Multipart part {name!r} cannot itself be a Multipart")
            if not isinstance(descriptor, IODescriptor):
                raise TypeError(f"Multipart part {name!r} must be an IO descriptor, not {type(descriptor).__name__}")
        self.parts: dict[str, IODescriptor] = dict(parts)
        #: Parts a request may leave out; the function's default applies (class-style ``@api``).
        self.optional: frozenset[str] = frozenset()

    # -- input --------------------------------------------------------------------------------

    async def from_request(self, request: Request) -> dict[str, Any]:
        self.check_media_type(request)
        try:
            form = await request.form(max_part_size=sys.maxsize)  # the body-size limit bounds it
        except ServiceError:
            raise
        except Exception as exc:  # MultiPartException, a missing boundary, ...
            raise BadInput("The multipart body could not be parsed.", detail=str(exc)) from exc
        try:
            received: dict[str, list[str | UploadFile]] = {}
            for name, value in form.multi_items():
                received.setdefault(name, []).append(value)
            self._check_names(received)
            return {
                name: await decode_part(name, descriptor, received[name][0])
                for name, descriptor in self.parts.items()
                if name in received
            }
        finally:
            await form.close()

    def _check_names(self, received: Mapping[str, list[Any]]) -> None:
        missing = [n for n in self.parts if n not in received and n not in self.optional]
        if missing:
            raise BadInput(
                f"The form lacks the part{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}.",
                detail={"missing": missing, "expected": list(self.parts), "received": list(received)},
            )
        repeated = [n for n in self.parts if len(received.get(n, ())) > 1]
        if repeated:
            raise BadInput(
                f"The form holds {', '.join(map(repr, repeated))} more than once; send each part once.",
                detail={"repeated": repeated},
            )

    # -- output -------------------------------------------------------------------------------

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        if not isinstance(value, Mapping):
            raise BadOutput(f"A Multipart output must be a dict of its parts, not {type(value).__name__}.")
        missing = [n for n in self.parts if n not in value]
        extra = [str(k) for k in value if k not in self.parts]
        if missing or extra:
            raise BadOutput(
                "The returned dict does not hold exactly the declared parts.",
                detail={"expected": list(self.parts), "missing": missing, "unexpected": extra},
            )
        boundary = uuid.uuid4().hex
        chunks: list[bytes] = []
        for name, descriptor in self.parts.items():
            try:
                part = descriptor.to_response(value[name])
            except BadOutput as exc:
                raise BadOutput(f"Part {name!r}: {exc.message}", detail=exc.detail) from exc
            body = bytes(part.body)
            media_type = part.headers.get("content-type", "application/octet-stream")
            disposition = f'form-data; name="{name}"'
            if _is_binary(media_type):
                extension = mimetypes.guess_extension(media_type.split(";")[0].strip()) or ".bin"
                disposition += f'; filename="{name}{extension}"'
            head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {media_type}\r\n"
            chunks += [head.encode("latin-1"), f"Content-Length: {len(body)}\r\n\r\n".encode(), body, b"\r\n"]
        chunks.append(f"--{boundary}--\r\n".encode())
        return Response(b"".join(chunks), media_type=f"{MULTIPART}; boundary={boundary}")

    # -- samples and documentation ------------------------------------------------------------

    def _take_sample(self, sample: Any, given: set[str]) -> dict[str, Any]:
        if not isinstance(sample, Mapping):
            raise ValueError("Multipart.from_sample needs a dict of part name → sample")
        unknown = [k for k in sample if k not in self.parts]
        if unknown:
            raise ValueError(f"Multipart.from_sample: no parts named {unknown} (parts: {list(self.parts)})")
        taken: dict[str, Any] = {}
        for name, value in sample.items():
            part = self.parts[name]
            # What the part's own constructor set stays; what it left open (None) the sample fixes.
            fixed = {k for k, v in vars(part).items() if v is not None}
            part._sample = taken[name] = part._take_sample(value, fixed)
        return taken

    def spec(self) -> dict[str, Any]:
        parts = {name: descriptor.spec() for name, descriptor in self.parts.items()}
        return {"type": "multipart", "parts": parts, "optional": sorted(self.optional)}

    def openapi_example(self) -> Any:
        examples = {n: d.openapi_example() for n, d in self.parts.items()}
        examples = {n: e for n, e in examples.items() if e is not None}
        return examples or None

    def openapi_request_body(self) -> dict[str, Any]:
        return {MULTIPART: self._form_media(input_side=True)}

    def openapi_responses(self) -> dict[str, Any]:
        return {MULTIPART: self._form_media(input_side=False)}

    def openapi_components(self) -> dict[str, dict[str, Any]]:
        components: dict[str, dict[str, Any]] = {}
        for descriptor in self.parts.values():
            components.update(descriptor.openapi_components())
        return components

    def _form_media(self, *, input_side: bool) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        encoding: dict[str, Any] = {}
        for name, descriptor in self.parts.items():
            content = descriptor.openapi_request_body() if input_side else descriptor.openapi_responses()
            types = [t for t in content if t != MULTIPART]
            properties[name] = dict(content[types[0]].get("schema", {})) if types else {}
            if types:
                encoding[name] = {"contentType": ", ".join(types)}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [n for n in self.parts if n not in self.optional] if input_side else list(self.parts)
        if required:
            schema["required"] = required
        media: dict[str, Any] = {"schema": schema}
        if input_side:  # OpenAPI applies encoding to request bodies only
            media["encoding"] = encoding
        example = self.openapi_example()
        if example is not None:
            media["example"] = example
        return media


async def decode_part(name: str, descriptor: IODescriptor, value: str | UploadFile) -> Any:
    """One form value decoded by ``descriptor``; its errors name the part."""
    if isinstance(value, UploadFile):
        headers = [(b"content-type", value.content_type.encode("latin-1"))] if value.content_type else []
        body = await value.read()
    else:
        headers, body = [], value.encode("utf-8")
    try:
        return await descriptor.from_request(_part_request(headers, body))
    except PayloadTooLarge as exc:
        raise PayloadTooLarge(f"Part {name!r}: {exc.message}", detail=exc.detail) from exc
    except (BadInput, UnsupportedMediaType) as exc:  # a part's content type is bad input, not the request's
        raise BadInput(f"Part {name!r}: {exc.message}", detail=exc.detail) from exc


def _part_request(headers: list[tuple[bytes, bytes]], body: bytes) -> Request:
    """One part as a request of its own, for its descriptor's ``from_request``."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": headers}
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _is_binary(media_type: str) -> bool:
    main = media_type.split(";")[0].strip().lower()
    return not (main.startswith("text/") or main == "application/json" or main.endswith("+json"))
