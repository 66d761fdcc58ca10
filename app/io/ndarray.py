"""``NumpyNdarray``: numpy arrays as JSON lists or ``.npy`` bytes (never pickles)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from numpy.typing import DTypeLike
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, as_output_error, negotiate, read_body
from app.io.codec import dumps, loads
from app.server.http_errors import BadInput, BadOutput
from runners.wire import npy

__all__ = ["NumpyNdarray"]

JSON = "application/json"
NPY = "application/x-npy"
_LOOSE_DEPTH = 2  # how deep an undeclared nesting is described (deeper arrays are still taken)


class NumpyNdarray(IODescriptor):
    """An ``np.ndarray`` from a JSON list or ``.npy`` bytes.

    ``shape`` may use ``-1`` for any length. Without ``enforce_dtype`` the input is cast to
    ``dtype`` when numpy can; with it, only a lossless cast is allowed (judged on the values
    for JSON, whose number types are only guesses, and with numpy's "safe" rule for ``.npy``).
    Without ``enforce_shape`` a differing input is reshaped when possible. A return value is
    held to the same rules (a failure is the API's, 500), so ``dtype="str"`` answers strings.
    JSON answers are written as ``json.dumps`` writes them (``[[1, 2], [3, 4]]``), as BentoML's
    are; ``Accept: application/x-npy`` gets ``.npy`` bytes.
    """

    media_types = (JSON, NPY)

    def __init__(
        self,
        dtype: DTypeLike | None = None,
        shape: Sequence[int] | None = None,
        enforce_dtype: bool = False,
        enforce_shape: bool = False,
    ) -> None:
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.shape = tuple(int(n) for n in shape) if shape is not None else None
        self.enforce_dtype = enforce_dtype
        self.enforce_shape = enforce_shape

    async def from_request(self, request: Request) -> np.ndarray:
        media_type = self.check_media_type(request)
        body = await read_body(request)
        if media_type == NPY:
            return self.from_array(_load_npy(body))
        return self.from_json_value(loads(body))

    def from_json_value(self, value: Any) -> np.ndarray:
        """An array from parsed JSON, cast and shaped as declared (BadInput if it cannot be)."""
        if not isinstance(value, list):
            raise BadInput(
                "The JSON is not an array (a list).",
                detail=f"Expected a list, nested for more dimensions; got {type(value).__name__}.",
            )
        return self._check_shape(self._cast_json(_array_from_json(value)))

    def from_array(self, array: np.ndarray) -> np.ndarray:
        """An array that already has a dtype, cast and shaped as declared."""
        return self._check_shape(self._cast_npy(array))

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise BadOutput("The value is not an array (ragged or mixed nested lists).", detail=str(exc)) from exc
        with as_output_error():
            array = self._check_shape(self._cast_json(array))
        if negotiate(accept, (JSON, NPY)) == NPY and not array.dtype.hasobject:
            return Response(npy.dumps(array), media_type=NPY)
        return Response(_json_body(array), media_type=JSON)

    def _take_sample(self, sample: Any, given: set[str]) -> np.ndarray:
        if isinstance(sample, np.generic) or np.ndim(sample) == 0:
            raise ValueError("NumpyNdarray.from_sample needs an array (or nested lists), not a scalar")
        array = np.asarray(sample)
        if array.dtype.hasobject:
            raise ValueError("NumpyNdarray.from_sample needs numbers, booleans or strings, not Python objects")
        if "dtype" not in given:
            self.dtype = array.dtype
        if "shape" not in given:
            self.shape = tuple(array.shape)
        return array

    def spec(self) -> dict[str, Any]:
        return {
            "type": "ndarray",
            "dtype": None if self.dtype is None else self.dtype.str if self.dtype.kind in "US" else self.dtype.name,
            "shape": None if self.shape is None else list(self.shape),
            "enforce_dtype": self.enforce_dtype,
            "enforce_shape": self.enforce_shape,
        }

    def openapi_example(self) -> Any:
        return None if self.sample is None else self.sample.tolist()

    def openapi_request_body(self) -> dict[str, Any]:
        content = {
            JSON: {"schema": self.json_schema()},
            NPY: {"schema": {"type": "string", "format": "binary", "contentMediaType": NPY}},
        }
        return self._with_example(content, JSON)

    def openapi_responses(self) -> dict[str, Any]:
        content = {
            JSON: {"schema": self.json_schema(output=True)},
            NPY: {"schema": {"type": "string", "format": "binary", "contentMediaType": NPY}},
        }
        return self._with_example(content, JSON)

    def json_schema(self, *, output: bool = False) -> dict[str, Any]:
        """The JSON schema of what the array is read from (or written as): what is accepted, no more.

        An enforced shape is spelled out; without one any rectangular nesting is taken (or
        reshaped), which JSON Schema cannot say beyond "arrays of arrays". The item types are
        those the dtype rules accept, bounded by the dtype's range. Answers may be 0-d (a scalar).
        """
        scalar = self._scalar_schema()
        if output and (self.dtype is None or self.dtype.kind in "fc"):
            scalar = {**scalar, "type": [*scalar["type"], "null"]}  # NaN and ±inf are written as null
        if self.shape is None or not self.enforce_shape:
            nested = {**scalar, "type": [*scalar["type"], "array"]}  # the deepest arrays: any
            for _ in range(_LOOSE_DEPTH):
                nested = {**nested, "items": nested}
            return nested if output else {"type": "array", "items": nested["items"]}
        schema = _collapsed(scalar)
        for depth, length in enumerate(reversed(self.shape)):
            schema = {"type": "array", "items": schema}
            if length >= 0:
                schema["minItems"] = schema["maxItems"] = length
            elif depth > 0:
                schema["minItems"] = 1  # numpy cannot tell the inner lengths of an empty list
        return schema

    def _scalar_schema(self) -> dict[str, Any]:
        """The JSON values one element may be, as ``_cast_json`` judges them."""
        target = self.dtype
        if target is None:
            return {"type": ["number", "boolean", "string"]}
        kind = target.kind
        schema: dict[str, Any]
        if kind in "fc":
            schema = {"type": ["number", "boolean"]}
            if kind == "f" and target.itemsize < 8:  # wider values overflow; float64 holds every JSON number
                limit = float(np.finfo(target).max)
                schema |= {"minimum": -limit, "maximum": limit}
        elif kind in "iu":
            schema = {"type": ["integer" if self.enforce_dtype else "number", "boolean"]}
            info = np.iinfo(target)
            schema |= {"minimum": int(info.min), "maximum": int(info.max)}
        elif kind == "b":
            schema = {"type": ["boolean"] if self.enforce_dtype else ["boolean", "number"]}
        elif kind in "US" and self.enforce_dtype:
            schema = {"type": ["string"]}
            if kind == "U" and target.itemsize:
                schema["maxLength"] = target.itemsize // 4
        else:
            schema = {"type": ["string", "number", "boolean"]}
        return schema

    def _cast_json(self, array: np.ndarray) -> np.ndarray:
        if self.dtype is None or array.dtype == self.dtype:
            return array
        target = self.dtype
        if array.dtype.kind in "US" and target.kind in "biufc":
            raise BadInput(
                f"The array holds strings where {target} numbers are expected.",
                detail={"expected_dtype": str(target), "got_dtype": str(array.dtype)},
            )
        if self.enforce_dtype and array.size and not _fits_losslessly(array, target):
            raise _dtype_error(array, target)  # an empty list has nothing to lose (json gives it float64)
        return _astype(array, target)

    def _cast_npy(self, array: np.ndarray) -> np.ndarray:
        if self.dtype is None or array.dtype == self.dtype:
            return array
        if self.enforce_dtype and not np.can_cast(array.dtype, self.dtype, casting="safe"):
            raise _dtype_error(array, self.dtype)
        if array.dtype.kind in "US" and self.dtype.kind in "biufc":
            raise _dtype_error(array, self.dtype)
        return _astype(array, self.dtype)

    def _check_shape(self, array: np.ndarray) -> np.ndarray:
        if self.shape is None or _shape_fits(array.shape, self.shape):
            return array
        if self.enforce_shape:
            raise BadInput(
                f"The array has shape {list(array.shape)}, expected {list(self.shape)}.",
                detail={"expected_shape": list(self.shape), "got_shape": list(array.shape)},
            )
        if self.shape.count(-1) <= 1:
            try:
                return array.reshape(self.shape)
            except ValueError:
                pass
        return array


def _collapsed(schema: dict[str, Any]) -> dict[str, Any]:
    """``{"type": ["number"]}`` → ``{"type": "number"}``."""
    types = schema["type"]
    return {**schema, "type": types[0]} if len(types) == 1 else schema


def _json_body(array: np.ndarray) -> bytes:
    """``json.dumps(array.tolist())``, spaces and all, at orjson's speed for numbers."""
    try:
        if array.dtype.kind in "biuf":
            try:  # orjson writes C-ordered arrays of the common dtypes directly
                raw = orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)
            except orjson.JSONEncodeError:  # 0-d, non-contiguous, float16, ...
                raw = orjson.dumps(array.tolist())
            return raw.replace(b",", b", ")
        if array.dtype.kind in "US":
            return json.dumps(array.tolist(), ensure_ascii=False).encode()
        return dumps(array.tolist())
    except (TypeError, ValueError, orjson.JSONEncodeError) as exc:
        raise BadOutput(f"The array's {array.dtype} values cannot be written as JSON.", detail=str(exc)) from exc


def _array_from_json(value: Any) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadInput("The JSON is not a rectangular array.", detail=str(exc)) from exc
    if array.dtype.hasobject:
        raise BadInput(
            "The JSON is not an array of numbers, booleans or strings.",
            detail="Nested lists must be rectangular and hold no objects or nulls.",
        )
    return array


def _load_npy(body: bytes) -> np.ndarray:
    """Read ``.npy`` bytes without ever unpickling: object dtypes are refused from the header."""
    try:
        return npy.loads(body)
    except npy.NpyError as exc:
        if exc.reason == "objects":
            raise BadInput(
                "The .npy file holds Python objects, which are not accepted.",
                detail="Save the array with a numeric or string dtype (allow_pickle=False).",
            ) from None
        if exc.reason == "length":
            raise BadInput("The .npy file's data does not match its header.", detail=exc.detail) from None
        raise BadInput("The request body is not a valid .npy file.", detail=str(exc)) from None


def _shape_fits(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(shape) == len(expected) and all(e == -1 or e == s for s, e in zip(shape, expected, strict=True))


def _fits_losslessly(array: np.ndarray, target: np.dtype) -> bool:
    """Whether JSON values fit ``target``: ints into floats, integral floats into ints in range."""
    source = array.dtype.kind
    if target.kind in "fc":
        return source in "biuf" or (source == "c" and target.kind == "c")
    if target.kind in "iu":
        if source == "b":
            return True
        if source == "f" and not np.all(np.isfinite(array) & (np.mod(array, 1) == 0)):
            return False
        return source in "iuf" and _in_range(array, target)
    return bool(np.can_cast(array.dtype, target, casting="safe"))


def _astype(array: np.ndarray, target: np.dtype) -> np.ndarray:
    """Cast, refusing what would silently wrap around or turn into garbage."""
    if target.kind in "iu" and array.dtype.kind in "biuf" and not _in_range(array, target):
        raise _dtype_error(array, target)
    try:
        with np.errstate(all="raise"):
            return array.astype(target)
    except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
        raise _dtype_error(array, target) from exc


def _in_range(array: np.ndarray, target: np.dtype) -> bool:
    if array.size == 0 or array.dtype.kind == "b":
        return True
    info = np.iinfo(target)
    with np.errstate(invalid="ignore"):
        return bool(array.min() >= info.min and array.max() <= info.max)


def _dtype_error(array: np.ndarray, target: np.dtype) -> BadInput:
    return BadInput(
        f"The array's {array.dtype} values cannot be used as {target}.",
        detail={"expected_dtype": str(target), "got_dtype": str(array.dtype)},
    )
