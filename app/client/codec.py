"""Python values to request bodies and answers back to Python values, by media type.

Sending: the value's type picks the encoding among the media types the API documents --
``np.ndarray`` as ``.npy`` when taken (dtype kept), else JSON; a DataFrame as Parquet (with
pyarrow), JSON records or CSV; a PIL image as PNG (or the image type the API names); ``str`` as
text; ``bytes``, a file or a path as raw bytes; anything else as JSON. Keyword arguments go as
the parts of a ``multipart/form-data`` body, or as the fields of a JSON object.

Receiving: the answer's ``Content-Type`` picks the decoding -- ``.npy`` and JSON arrays of an API
that answers arrays give ``np.ndarray``; Parquet, CSV and the JSON of an API that answers tables
give a DataFrame; ``image/*`` a PIL image (bytes without Pillow); ``text/*`` a ``str``;
``multipart/form-data`` a dict of decoded parts; anything else ``bytes``. Nothing is unpickled.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import mimetypes
import os
import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from app.client.errors import UndecodableAnswer
from app.client.spec import MULTIPART, Endpoint

__all__ = ["accept_header", "decode", "encode"]

JSON = "application/json"
NPY = "application/x-npy"
CSV = "text/csv"
TEXT = "text/plain"
OCTET = "application/octet-stream"
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
_TABLES = (CSV, *PARQUET_TYPES)
_IMAGE_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/gif": "GIF",
}

Body = tuple[bytes, str]


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _pandas() -> Any:
    """pandas, imported when a table is decoded (a client without tables never loads it)."""
    return importlib.import_module("pandas")


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_array(value: Any) -> bool:
    return _type_name(value) == "numpy.ndarray"


def _is_frame(value: Any) -> bool:
    return _type_name(value).startswith("pandas.") and hasattr(value, "to_parquet") and hasattr(value, "columns")


def _is_series(value: Any) -> bool:
    return _type_name(value) == "pandas.core.series.Series"


def _is_image(value: Any) -> bool:
    return _type_name(value).startswith("PIL.") and hasattr(value, "save") and hasattr(value, "mode")


# -- sending ---------------------------------------------------------------------------------


def encode(endpoint: Endpoint, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Body:
    """The request body and its content type for calling ``endpoint`` with these arguments."""
    if args and kwargs:
        raise TypeError(f"{endpoint.name}() takes one input value or keyword arguments, not both")
    if len(args) > 1:
        raise TypeError(f"{endpoint.name}() takes one input value, got {len(args)}")
    if kwargs:
        if endpoint.takes(MULTIPART) and (endpoint.parts or not endpoint.takes(JSON)):
            return _multipart(endpoint, kwargs)
        return _json(dict(kwargs))
    if not args:
        return (b"{}", JSON) if endpoint.takes(JSON) else (b"", endpoint.accepts[0] if endpoint.accepts else OCTET)
    return _single(args[0], endpoint.accepts)


def _single(value: Any, accepts: tuple[str, ...]) -> Body:
    def takes(media_type: str) -> bool:
        major = media_type.split("/", 1)[0]
        return any(a in ("*/*", media_type) or (a.endswith("/*") and a[:-2] == major) for a in accepts)

    if _is_array(value):
        if takes(NPY) and not value.dtype.hasobject:
            return _npy(value), NPY
        if not takes(JSON) and _image_type(accepts):
            return _image_from_array(value, accepts)
        return _json(value)
    if _is_frame(value):
        parquet = next((t for t in PARQUET_TYPES if t in accepts), None)
        if parquet is not None and _has("pyarrow"):
            return value.to_parquet(), parquet
        if not takes(JSON) and takes(CSV):
            return value.to_csv(index=False).encode("utf-8"), CSV
        return value.to_json(orient="records", date_format="iso").encode("utf-8"), JSON
    if _is_series(value):
        return value.to_json(orient="records", date_format="iso").encode("utf-8"), JSON
    if _is_image(value):
        return _image(value, accepts)
    if isinstance(value, str):
        if takes(TEXT) or not takes(JSON):
            return value.encode("utf-8"), "text/plain; charset=utf-8"
        return _json(value)
    raw = _raw_bytes(value)
    if raw is not None:
        data, guessed = raw
        if guessed and takes(guessed):
            return data, guessed
        concrete = [a for a in accepts if "*" not in a and a != MULTIPART]
        return data, (guessed if guessed and not concrete else concrete[0] if concrete else OCTET)
    return _json(value)


def _json(value: Any) -> Body:
    if hasattr(value, "model_dump_json"):  # a pydantic model
        return value.model_dump_json().encode("utf-8"), JSON
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_jsonable), JSON
    except TypeError as exc:
        raise TypeError(f"cannot send a {type(value).__name__} as JSON: {exc}") from None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if _is_frame(value) or _is_series(value):
        return orjson.loads(value.to_json(orient="records", date_format="iso"))
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _npy(array: Any) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _image_type(accepts: tuple[str, ...]) -> str | None:
    """The image type to send: the first concrete one the API names, PNG for ``image/*``."""
    concrete = [a for a in accepts if a.startswith("image/") and "*" not in a and a in _IMAGE_FORMATS]
    if concrete:
        return concrete[0]
    return "image/png" if any(a in ("image/*", "*/*") for a in accepts) else None


def _image(image: Any, accepts: tuple[str, ...]) -> Body:
    media_type = _image_type(accepts) or "image/png"
    buffer = io.BytesIO()
    img = image
    if _IMAGE_FORMATS[media_type] == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
        img = img.convert("RGB")
    img.save(buffer, format=_IMAGE_FORMATS[media_type])
    return buffer.getvalue(), media_type


def _image_from_array(array: Any, accepts: tuple[str, ...]) -> Body:
    try:
        from PIL import Image
    except ImportError:
        raise TypeError("sending an array to an image API needs Pillow (pip install pillow)") from None
    return _image(Image.fromarray(array), accepts)


def _raw_bytes(value: Any) -> tuple[bytes, str | None] | None:
    """Bytes and a guessed media type for bytes, a readable file or a path; ``None`` for other values."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), None
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        with open(path, "rb") as file:
            return file.read(), mimetypes.guess_type(str(path))[0]
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        name = getattr(value, "name", None)
        guessed = mimetypes.guess_type(name)[0] if isinstance(name, str) else None
        return (data.encode("utf-8") if isinstance(data, str) else bytes(data)), guessed
    return None


def _multipart(endpoint: Endpoint, parts: Mapping[str, Any]) -> Body:
    unknown = [name for name in parts if endpoint.parts and name not in endpoint.parts]
    if unknown:
        raise TypeError(f"{endpoint.name}() takes parts {', '.join(endpoint.parts)}; not {', '.join(unknown)}")
    boundary = secrets.token_hex(16)
    chunks: list[bytes] = []
    for name, value in parts.items():
        data, media_type = _single(value, endpoint.parts.get(name) or ("*/*",))
        binary = not (media_type.startswith("text/") or media_type == JSON)
        disposition = f'form-data; name="{_quote(name)}"'
        if binary:
            filename = getattr(value, "name", None) if not isinstance(value, (str, bytes)) else None
            disposition += f'; filename="{_quote(os.path.basename(str(filename or name)))}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {media_type}\r\n\r\n"
        chunks += [head.encode("utf-8"), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"{MULTIPART}; boundary={boundary}"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def accept_header(endpoint: Endpoint) -> str | None:
    """The documented answer types, the exact ones first: ``.npy`` and Parquet (with pyarrow) lead."""
    if not endpoint.answers:
        return None
    ranked = [t for t in endpoint.answers if t == NPY]
    ranked += [t for t in endpoint.answers if t in PARQUET_TYPES and _has("pyarrow")]
    ranked += [t for t in endpoint.answers if t not in ranked and t not in PARQUET_TYPES]
    if not ranked:
        return None
    return ", ".join(t if i == 0 else f"{t};q={max(0.1, 1 - i / 10):.1f}" for i, t in enumerate(ranked))


# -- receiving -------------------------------------------------------------------------------


def decode(endpoint: Endpoint | None, content_type: str | None, body: bytes) -> Any:
    """The answer as a Python value, by its content type and what the API documents it answers."""
    media_type, params = _split(content_type)
    answers = endpoint.answers if endpoint is not None else ()
    try:
        return _decode(media_type, params, body, answers)
    except UndecodableAnswer:
        raise
    except Exception as exc:
        raise UndecodableAnswer(f"The answer is not valid {media_type or 'content'}: {exc}") from exc


def _decode(media_type: str, params: Mapping[str, str], body: bytes, answers: tuple[str, ...]) -> Any:
    if media_type == NPY:
        import numpy as np

        return np.load(io.BytesIO(body), allow_pickle=False)
    if media_type == JSON or media_type.endswith("+json"):
        value = orjson.loads(body) if body else None
        if NPY in answers:
            import numpy as np

            return np.asarray(value)
        if any(t in answers for t in _TABLES):
            return _frame_from_json(value)
        return value
    if media_type in PARQUET_TYPES:
        pd = _pandas()

        return pd.read_parquet(io.BytesIO(body))
    if media_type == CSV:
        pd = _pandas()

        return pd.read_csv(io.BytesIO(body))
    if media_type == MULTIPART:
        return _parts(media_type, params, body)
    if media_type.startswith("text/"):
        return body.decode(params.get("charset") or "utf-8")
    if media_type.startswith("image/") and _has("PIL"):
        from PIL import Image

        image = Image.open(io.BytesIO(body))
        image.load()
        return image
    return body


def _frame_from_json(value: Any) -> Any:
    pd = _pandas()

    if isinstance(value, dict) and "data" in value and set(value) <= {"columns", "data", "index"}:
        return pd.DataFrame(value["data"], columns=value.get("columns"), index=value.get("index"))
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return pd.DataFrame.from_records(value)
    frame = pd.DataFrame(value)
    if isinstance(value, dict) and all(isinstance(column, dict) for column in value.values()):
        labels = [str(label) for label in frame.index]
        if all(label.lstrip("-").isdigit() for label in labels):  # JSON keys are strings; the index was integers
            frame.index = pd.Index([int(label) for label in labels])
    return frame


def _parts(media_type: str, params: Mapping[str, str], body: bytes) -> dict[str, Any]:
    boundary = params.get("boundary")
    if not boundary:
        raise UndecodableAnswer("The multipart answer has no boundary.")
    delimiter = b"--" + boundary.encode("latin-1")
    sections = (b"\r\n" + body).split(b"\r\n" + delimiter)
    parts: dict[str, Any] = {}
    for section in sections[1:]:
        if section.startswith(b"--"):
            break  # the closing delimiter
        head, separator, data = section.partition(b"\r\n\r\n")
        if not separator:
            raise UndecodableAnswer("A part of the multipart answer has no headers.")
        headers = _part_headers(head)
        name = _split("x/x;" + headers.get("content-disposition", "").partition(";")[2])[1].get("name")
        if name is None:
            continue
        content_type = headers.get("content-type")
        parts[name] = _decode(*_split(content_type), data, ()) if content_type else data.decode("utf-8")
    return parts


def _part_headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return headers


def _split(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        return "", {}
    media_type, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, _, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), params
