"""``Image``: a ``PIL.Image.Image`` from PNG, JPEG, WebP, BMP, GIF or TIFF bytes, and back.

Decoding untrusted images is where image services die, so a body is checked before any pixel
is decoded: Pillow tries only the allowed formats (nothing else is parsed at all), and the
size in the image's header must be at most ``max_pixels``, else 413, so a decompression bomb
(a small file that declares a huge image) is refused without allocating its pixels. A body
that is no image, a truncated or corrupt one, or one of a content type that is not allowed is
400 (as BentoML's ``Image`` answers). Decoding runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import functools
import importlib
import io
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, check_encoding, media_type_of, read_body
from app.server.http_errors import BadInput, BadOutput, PayloadTooLarge, ServiceError

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["DEFAULT_ALLOWED", "DEFAULT_MAX_PIXELS", "Image"]

#: 50 megapixels: an 8000×6000 photo; decoded as RGB, 150 MB.
DEFAULT_MAX_PIXELS = 50_000_000
#: What ``Image()`` takes when ``allowed_mime_types`` is not given.
DEFAULT_ALLOWED = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")

OCTET_STREAM = "application/octet-stream"
MULTIPART = "multipart/form-data"
_BINARY = {"type": "string", "format": "binary"}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/tif": "image/tiff",
}
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF", "GIF"})


@functools.cache
def _pil() -> ModuleType:
    """``PIL.Image``, imported on first use and with every format plugin registered."""
    module = importlib.import_module("PIL.Image")
    module.init()
    return module


def _formats_by_mime() -> dict[str, list[str]]:
    """MIME type → the Pillow format names that read or write it (``image/bmp`` → BMP, DIB)."""
    formats: dict[str, list[str]] = {}
    for name, mime in _pil().MIME.items():
        formats.setdefault(mime.lower(), []).append(name)
    return formats


def canonical_mime(mime: str) -> str:
    mime = mime.strip().lower()
    return _ALIASES.get(mime, mime)


class Image(IODescriptor):
    """A ``PIL.Image.Image`` from an image body, or the first image of a multipart form.

    ``allowed_mime_types`` are the formats taken (default: PNG, JPEG, WebP, BMP, GIF, TIFF);
    the bytes must be one of them, whatever the content type says. A request may also say
    ``application/octet-stream``, ``image/*`` or nothing, and the format is then found from the
    bytes. ``pilmode`` (``"RGB"``, ``"L"``, ...) converts decoded images to that mode, and
    returned images before they are encoded. ``mime_type`` is the format of the answer; the API
    may return a ``PIL.Image.Image`` or an array (``np.ndarray`` of shape (H, W) or (H, W, C)).
    """

    def __init__(
        self,
        pilmode: str | None = None,
        mime_type: str = "image/jpeg",
        *,
        allowed_mime_types: Iterable[str] | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        pil = _pil()
        if pilmode is not None and pilmode not in _modes(pil):
            raise ValueError(f"pilmode {pilmode!r} is not a Pillow mode (known: {', '.join(sorted(_modes(pil)))})")
        if max_pixels < 1:
            raise ValueError("max_pixels must be at least 1")
        by_mime = _formats_by_mime()
        allowed = [canonical_mime(m) for m in (DEFAULT_ALLOWED if allowed_mime_types is None else allowed_mime_types)]
        if not allowed:
            raise ValueError("allowed_mime_types must name at least one image type")
        formats: list[str] = []
        for mime in allowed:
            readable = [f for f in by_mime.get(mime, []) if f in pil.OPEN]
            if not readable:
                raise ValueError(f"Pillow cannot read {mime!r} images")
            formats.extend(f for f in readable if f not in formats)
        self.pilmode = pilmode
        self.mime_type = canonical_mime(mime_type)
        self.allowed_mime_types = tuple(dict.fromkeys(allowed))
        self.max_pixels = max_pixels
        self._formats = tuple(formats)
        self._format = _writer(self.mime_type)
        self.media_types = (*self.allowed_mime_types, OCTET_STREAM, MULTIPART)

    # -- input --------------------------------------------------------------------------------

    async def from_request(self, request: Request) -> PIL.Image.Image:
        media_type = media_type_of(request.headers.get("content-type"))
        if media_type == MULTIPART:
            body = await self._upload(request)
        else:
            if media_type and not self._takes(media_type):
                raise self._wrong_type(media_type)
            body = await read_body(request)
        return await anyio.to_thread.run_sync(self.decode, body, abandon_on_cancel=True)  # a timeout need not wait

    def decode(self, body: bytes) -> PIL.Image.Image:
        """Decode image bytes, checking the format and the pixel count first (BadInput, PayloadTooLarge)."""
        pil = _pil()
        if not body:
            raise BadInput("The request body is empty; send an image.")
        try:
            image: PIL.Image.Image = pil.open(io.BytesIO(body), formats=self._formats)
        except pil.DecompressionBombError as exc:
            raise PayloadTooLarge("The image has more pixels than this server decodes.", detail=str(exc)) from exc
        except Exception as exc:  # UnidentifiedImageError, and whatever a header parser raises on garbage
            raise BadInput(
                f"The body is not an image in an accepted format ({', '.join(self.allowed_mime_types)}).",
                detail=None if isinstance(exc, pil.UnidentifiedImageError) else str(exc),
            ) from exc
        width, height = image.size
        if width * height > self.max_pixels:
            raise PayloadTooLarge(
                f"The image is {width}×{height} pixels, more than this API takes ({self.max_pixels} pixels).",
                detail={"width": width, "height": height, "max_pixels": self.max_pixels},
            )
        try:
            image.load()
        except Exception as exc:  # truncated data, corrupt compressed stream, ...
            raise BadInput("The image is truncated or corrupt.", detail=str(exc)) from exc
        if self.pilmode is not None and image.mode != self.pilmode:
            try:
                image = image.convert(self.pilmode)
            except ValueError as exc:
                raise BadInput(f"A {image.mode} image cannot be converted to {self.pilmode}.", detail=str(exc)) from exc
        return image

    def _takes(self, media_type: str) -> bool:
        mime = canonical_mime(media_type)
        return mime in self.allowed_mime_types or mime in ("image/*", OCTET_STREAM)

    def _wrong_type(self, media_type: str) -> BadInput:
        return BadInput(
            f"This API takes an image ({', '.join(self.allowed_mime_types)}), not {media_type!r}.",
            detail={"content_type": media_type, "accepted": list(self.allowed_mime_types)},
        )

    async def _upload(self, request: Request) -> bytes:
        """The bytes of the form's first file that may be an image."""
        check_encoding(request)
        try:
            form = await request.form()
        except ServiceError:
            raise
        except Exception as exc:
            raise BadInput("The multipart body could not be parsed.", detail=str(exc)) from exc
        try:
            files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
            for upload in files:
                if not upload.content_type or self._takes(media_type_of(upload.content_type)):
                    return await upload.read()
            if not files:
                raise BadInput("The multipart body holds no file; send the image as a file field.")
            raise self._wrong_type(", ".join(media_type_of(f.content_type) for f in files))
        finally:
            await form.close()

    # -- output -------------------------------------------------------------------------------

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        return Response(self.encode(value), media_type=self.mime_type)

    def encode(self, value: Any) -> bytes:
        """A returned image or array as ``mime_type`` bytes (BadOutput if it is neither)."""
        pil = _pil()
        if isinstance(value, np.ndarray):
            try:
                value = pil.fromarray(value)
            except (TypeError, ValueError) as exc:
                raise BadOutput(
                    f"A {value.dtype} array of shape {list(value.shape)} is not an image.", detail=str(exc)
                ) from exc
        if not isinstance(value, pil.Image):
            raise BadOutput(f"An Image output must be a PIL image or a numpy array, not {type(value).__name__}.")
        image: PIL.Image.Image = value
        try:
            if self.pilmode is not None and image.mode != self.pilmode:
                image = image.convert(self.pilmode)
            return _save(image, self._format)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadOutput(f"A {image.mode} image cannot be written as {self.mime_type}.", detail=str(exc)) from exc

    # -- samples and documentation ------------------------------------------------------------

    def _take_sample(self, sample: Any, given: set[str]) -> PIL.Image.Image:
        pil = _pil()
        if isinstance(sample, (str, os.PathLike)):
            sample = Path(sample).read_bytes()
        if isinstance(sample, (bytes, bytearray)):
            sample = pil.open(io.BytesIO(bytes(sample)))
            sample.load()
        elif isinstance(sample, np.ndarray):
            sample = pil.fromarray(sample)
        if not isinstance(sample, pil.Image):
            kind = type(sample).__name__
            raise ValueError(f"Image.from_sample needs a path, image bytes, a PIL image or an array, not {kind}")
        if "mime_type" not in given and sample.format:
            mime = canonical_mime(pil.MIME.get(sample.format, ""))
            if mime and sample.format in pil.SAVE:
                self.mime_type = mime
                self._format = _writer(mime)
        image: PIL.Image.Image = sample
        return image

    def spec(self) -> dict[str, Any]:
        return {
            "type": "image",
            "pilmode": self.pilmode,
            "mime_type": self.mime_type,
            "allowed_mime_types": list(self.allowed_mime_types),
            "max_pixels": self.max_pixels,
        }

    def openapi_request_body(self) -> dict[str, Any]:
        content: dict[str, Any] = {mime: {"schema": dict(_BINARY)} for mime in self.allowed_mime_types}
        content[OCTET_STREAM] = {"schema": dict(_BINARY)}
        content[MULTIPART] = {
            "schema": {"type": "object", "properties": {"file": dict(_BINARY)}, "required": ["file"]},
            "encoding": {"file": {"contentType": ", ".join(self.allowed_mime_types)}},
        }
        return content

    def openapi_responses(self) -> dict[str, Any]:
        return {self.mime_type: {"schema": dict(_BINARY)}}


def _modes(pil: ModuleType) -> set[str]:
    return set(pil.MODES)


def _writer(mime: str) -> str:
    """The Pillow format that writes ``mime``; ValueError if Pillow writes no such images."""
    pil = _pil()
    for name in _formats_by_mime().get(mime, []):
        if name in pil.SAVE:
            return name
    raise ValueError(f"Pillow cannot write {mime!r} images")


def _save(image: PIL.Image.Image, fmt: str) -> bytes:
    """Encode, converting a mode the format cannot hold (RGBA as JPEG, 16-bit as BMP, ...)."""
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError):
        alpha = "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if alpha and fmt in _ALPHA_FORMATS else "RGB")
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
    return buffer.getvalue()
