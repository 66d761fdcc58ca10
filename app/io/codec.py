"""JSON encoding and decoding shared by the descriptors, and JSON-schema plumbing for OpenAPI."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import math
import uuid
from pathlib import PurePath
from typing import Any

import numpy as np
import orjson
import pydantic
from starlette.responses import Response

from app.server.http_errors import BadInput

__all__ = [
    "REF_TEMPLATE",
    "dumps",
    "json_response",
    "json_safe",
    "jsonable",
    "loads",
    "type_schema",
    "validation_detail",
]

REF_TEMPLATE = "#/components/schemas/{model}"

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def jsonable(obj: Any) -> Any:
    """Everything orjson does not encode by itself (non-contiguous arrays, models, ...)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, pydantic.BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (PurePath, uuid.UUID)):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, (datetime.date, datetime.time)):  # subclasses such as pd.Timestamp
        return obj.isoformat()
    to_dict = getattr(obj, "to_dict", None)  # pandas Series and DataFrame
    if callable(to_dict) and type(obj).__module__.startswith("pandas"):
        return to_dict(orient="records") if hasattr(obj, "columns") else obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=jsonable, option=_OPTIONS)
    except TypeError as exc:
        if not _too_big(exc):
            raise
        return _dumps_big_ints(value, jsonable)


def _too_big(exc: TypeError) -> bool:
    return "64-bit" in str(exc)


def _dumps_big_ints(value: Any, default: Any) -> bytes:
    """The slow path for what orjson refuses: an integer past 64 bits (``2**70``), which pydantic's
    JSON parser reads from a body and an API may well answer. Non-finite floats stay ``null``."""

    def finite(obj: Any) -> Any:
        if isinstance(obj, float) and not math.isfinite(obj):
            return None
        if isinstance(obj, dict):
            return {k: finite(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [finite(v) for v in obj]
        return obj

    def fallback(obj: Any) -> Any:
        return finite(default(obj))

    try:
        text = json.dumps(finite(value), default=fallback, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:  # a circular reference
        raise TypeError(str(exc)) from exc
    return text.encode()


def loads(body: bytes | str, what: str = "The request body") -> Any:
    """Parse JSON; anything malformed is the client's fault (400)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{what} is not valid JSON.", detail=str(exc)) from exc


def json_response(value: Any, status_code: int = 200, media_type: str = "application/json") -> Response:
    return Response(dumps(value), status_code=status_code, media_type=media_type)


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy: pydantic's error lists carry exceptions and raw inputs.

    An integer past 64 bits comes back as a float, so that orjson can write the copy."""
    try:
        raw = orjson.dumps(value, default=_safe_default, option=_OPTIONS)
    except TypeError as exc:
        if not _too_big(exc):
            raise
        raw = _dumps_big_ints(value, _safe_default)
    return orjson.loads(raw)


def _safe_default(obj: Any) -> Any:
    try:
        return jsonable(obj)
    except TypeError:
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj).decode("utf-8", errors="replace")
        return str(obj)


_ECHO_LIMIT = 256  # characters of a rejected string input an error repeats back


def validation_detail(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as a JSON-safe list, without documentation links.

    A long string input is cut: for a body that is not JSON at all pydantic's input is the whole
    body, and an error must not answer a 20 MB body with a 20 MB detail."""
    errors = [_cut_input(e) for e in exc.errors(include_url=False)]
    try:
        detail: list[dict[str, Any]] = json_safe(errors)
    except (TypeError, orjson.JSONEncodeError):  # an input nested past orjson's depth limit: name its type
        detail = json_safe([{**e, "input": type(e.get("input")).__name__} for e in errors])
    return detail


def _cut_input(error: Any) -> Any:
    value = error.get("input")
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: _ECHO_LIMIT + 4]).decode("utf-8", errors="replace")
    if isinstance(value, str) and len(value) > _ECHO_LIMIT:
        return {**error, "input": value[:_ECHO_LIMIT] + "..."}
    return error


def type_schema(tp: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """JSON schemas of a type as input and as output, and the named components they refer to.

    Both modes are generated together so that a model that differs between them gets two
    names (``Model-Input``, ``Model-Output``) instead of two different schemas under one name.
    """
    try:
        adapter = pydantic.TypeAdapter(tp)
        keys = [("in", "validation", adapter), ("out", "serialization", adapter)]
        schemas, top = pydantic.TypeAdapter.json_schemas(keys, ref_template=REF_TEMPLATE)  # type: ignore[arg-type]
    except (pydantic.PydanticUserError, TypeError):
        return {}, {}, {}  # a type with no JSON schema (an arbitrary class): documented as any JSON
    return schemas[("in", "validation")], schemas[("out", "serialization")], dict(top.get("$defs", {}))
