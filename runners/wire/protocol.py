"""The runner sidecar's wire format, shared by the server and the client.

``POST /<method>`` carries one argument; the answer carries the method's return value.

==========================================  ===============================================
content type                                payload
==========================================  ===============================================
``application/x-npy``                       one numpy array in ``.npy`` format; object dtypes
                                            (pickles) are refused
``application/vnd.tiffin.dataframe+json``   a pandas DataFrame (or Series): pandas' "split"
                                            orientation plus explicit dtypes, see below
``application/vnd.tiffin.value+json``       any JSON value, passed to the method as is
``application/json``                        JSON for humans (curl): nested lists of numbers,
                                            strings or booleans become a numpy array
==========================================  ===============================================

Anything else, pickles (``application/python-pickle``, ``application/octet-stream``) in
particular, is answered 415; a body that does not decode, 400. Nothing received is unpickled.

DataFrame payload: ``{"columns": [...], "dtypes": [...], "data": [[row], ...]}`` with optional
``"index": [...]`` (absent for a default ``RangeIndex``) and ``"series": true`` for a Series
(one column, named by the Series). Dtypes are checked against an allow-list before
``astype``; datetimes travel as ISO 8601 strings, missing values as ``null``.

The answer's type: an array goes back as ``.npy`` and a DataFrame in the DataFrame format when
the request used that type or lists it in ``Accept``; otherwise JSON (``.../value+json`` when
accepted, which the client always sends). Errors are JSON ``{"error", "type", "detail"}``
(``RunnerError.to_dict``) with the error's status. The caller's deadline travels in
``X-Tiffin-Deadline`` (seconds since the epoch).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import numpy as np
import orjson

from runners.errors import InvalidInput, UnsupportedMediaType
from runners.wire import npy
from runners.wire.deadline import HEADER as DEADLINE_HEADER

NPY = "application/x-npy"
DATAFRAME = "application/vnd.tiffin.dataframe+json"
VALUE = "application/vnd.tiffin.value+json"
JSON = "application/json"
ACCEPTED = (NPY, DATAFRAME, VALUE, JSON)
CLIENT_ACCEPT = f"{NPY}, {DATAFRAME}, {VALUE}"

__all__ = ["ACCEPTED", "CLIENT_ACCEPT", "DATAFRAME", "DEADLINE_HEADER", "JSON", "NPY", "VALUE", "decode", "encode"]

_DTYPE = re.compile(
    r"^(u?int(8|16|32|64)|float(16|32|64)|complex(64|128)|bool|object|str|string|category"
    r"|U?Int(8|16|32|64)|Float(32|64)|boolean"
    r"|datetime64\[(s|ms|us|ns)(, [A-Za-z0-9_/+:-]+)?\]|timedelta64\[(s|ms|us|ns)\])$"
)
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def decode(body: bytes, content_type: str | None) -> Any:
    media = media_type(content_type)
    if media == NPY:
        return _decode_npy(body)
    if media in (JSON, VALUE, DATAFRAME):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("The body is not valid JSON.", detail=str(exc)) from None
        if media == DATAFRAME:
            return _decode_frame(value)
        return _as_array(value) if media == JSON else value
    raise UnsupportedMediaType(detail={"content_type": content_type or None, "accepted": list(ACCEPTED)})


def encode(value: Any, accept: Collection[str] = ACCEPTED) -> tuple[bytes, str]:
    """Encode ``value`` in the best of the ``accept``-ed media types."""
    if isinstance(value, np.ndarray) and not value.dtype.hasobject and NPY in accept:
        return npy.dumps(value), NPY
    if _is_frame(value) and DATAFRAME in accept:
        return _encode_frame(value), DATAFRAME
    if _is_frame(value):
        value = value.to_dict(orient="records") if hasattr(value, "columns") else value.tolist()
    media = VALUE if VALUE in accept else JSON
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS), media


def _decode_npy(body: bytes) -> np.ndarray:
    # The header is read first: the array is built only once the body is known to hold it.
    try:
        return npy.loads(body)
    except npy.NpyError as exc:
        messages = {
            "objects": "Arrays of Python objects are refused (they would need unpickling).",
            "length": "The .npy body's length does not match its header.",
        }
        message = messages.get(exc.reason, "The body is not a valid .npy array.")
        detail = {"length": exc.detail, "malformed": str(exc)}.get(exc.reason)
        raise InvalidInput(message, detail=detail) from None


def _as_array(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return value
    return value if array.dtype.hasobject else array


def _is_frame(value: Any) -> bool:
    kind = type(value)
    return kind.__module__.partition(".")[0] == "pandas" and kind.__name__ in ("DataFrame", "Series")


def _encode_frame(value: Any) -> bytes:
    import pandas as pd

    series = isinstance(value, pd.Series)
    frame = value.to_frame() if series else value
    body: dict[str, Any] = {
        "columns": list(frame.columns),
        "dtypes": [str(t) for t in frame.dtypes],
        "data": frame.to_numpy(dtype=object).tolist(),
    }
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        body["index"] = index.tolist()
    if series:
        body["series"] = True
    return orjson.dumps(body, default=_json_default, option=_JSON_OPTIONS)


def _decode_frame(value: Any) -> Any:
    import pandas as pd

    try:
        columns, dtypes, data = value["columns"], value["dtypes"], value["data"]
        if not (isinstance(columns, list) and isinstance(dtypes, list) and isinstance(data, list)):
            raise TypeError("columns, dtypes and data must be lists")
        if len(columns) != len(dtypes):
            raise ValueError("columns and dtypes differ in length")
        if len(set(map(repr, columns))) != len(columns):
            raise ValueError("column names must be unique")
        if any(not isinstance(row, list) or len(row) != len(columns) for row in data):
            raise ValueError("every row of data must have one value per column")
        for dtype in dtypes:
            if not isinstance(dtype, str) or not _DTYPE.match(dtype):
                raise ValueError(f"dtype {dtype!r} is not accepted")
        index = value.get("index")
        frame = pd.DataFrame(data, columns=columns, index=index)
        frame = frame.astype(dict(zip(frame.columns, dtypes, strict=True)))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InvalidInput("The body is not a valid DataFrame payload.", detail=str(exc)) from None
    if value.get("series"):
        return frame.iloc[:, 0] if frame.shape[1] == 1 else frame
    return frame


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or _is_missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_missing(value: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:
        return False
    return value is pd.NA or value is pd.NaT
