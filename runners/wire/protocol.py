"""The runner sidecar's wire format, shared by the server and the client.

``POST /<method>`` carries one call's arguments; the answer carries the method's return value.

==========================================  ===============================================
content type                                payload
==========================================  ===============================================
``application/x-npy``                       one numpy array in ``.npy`` format, the only
                                            argument (the fast path); object dtypes (pickles)
                                            are refused
``application/vnd.tiffin.call+msgpack``     a request: ``[args, kwargs]`` as msgpack, any safe
                                            values (``runners.wire.values``)
``application/vnd.tiffin.value+msgpack``    an answer: one such value
``application/vnd.tiffin.dataframe+json``   a pandas DataFrame (or Series) as JSON
                                            (``runners.wire.dataframes``)
``application/vnd.tiffin.value+json``       any JSON value, passed to the method as is
``application/json``                        JSON for humans (curl): nested lists of numbers,
                                            strings or booleans become a numpy array
==========================================  ===============================================

Anything else, pickles (``application/python-pickle``, ``application/octet-stream``) in
particular, is answered 415; a body that does not decode, 400. Nothing received is unpickled.

The client sends a lone ndarray argument as ``.npy`` and every other call as msgpack. The
answer's type: an array goes back as ``.npy`` when the caller accepts it, anything else as
msgpack when accepted (the client always accepts both), else a DataFrame in the DataFrame format
when the request used that type or lists it in ``Accept``, else JSON. Errors are JSON
``{"error", "type", "detail", "raised"}`` (``RunnerError.to_dict``) with the error's status. The
caller's deadline travels in ``X-Tiffin-Deadline`` (seconds since the epoch).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import orjson

from runners.errors import InvalidInput, UnsupportedMediaType
from runners.wire import dataframes, npy, values
from runners.wire.arguments import Arguments
from runners.wire.deadline import HEADER as DEADLINE_HEADER

NPY = "application/x-npy"
CALL = "application/vnd.tiffin.call+msgpack"
MSGPACK = "application/vnd.tiffin.value+msgpack"
DATAFRAME = "application/vnd.tiffin.dataframe+json"
VALUE = "application/vnd.tiffin.value+json"
JSON = "application/json"
ACCEPTED = (NPY, CALL, MSGPACK, DATAFRAME, VALUE, JSON)
CLIENT_ACCEPT = f"{NPY}, {MSGPACK}"

__all__ = [
    "ACCEPTED",
    "CALL",
    "CLIENT_ACCEPT",
    "DATAFRAME",
    "DEADLINE_HEADER",
    "JSON",
    "MSGPACK",
    "NPY",
    "VALUE",
    "decode",
    "decode_call",
    "encode",
    "encode_call",
]

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def media_type(content_type: str | None) -> str:
    """``"Application/JSON; charset=utf-8"`` → ``"application/json"``; missing → ``""``."""
    return (content_type or "").partition(";")[0].strip().lower()


def encode_call(call: Arguments) -> tuple[bytes, str]:
    """A request body for ``call``; ``UnsendableValue`` naming the argument that cannot go."""
    args, kwargs = call.args, call.kwargs
    if not kwargs and len(args) == 1:
        value = args[0]
        if type(value) is np.ndarray and not value.dtype.hasobject:
            return npy.dumps(value), NPY
    try:
        return values.pack([list(args), kwargs]), CALL
    except values.UnsendableValue as exc:
        for name, value in call.names():
            try:
                values.pack(value)
            except values.UnsendableValue as found:
                raise values.locate(value, found).named(f"argument {name}") from None
        if any(not isinstance(k, str) for k in kwargs):
            raise values.UnsendableValue("keyword argument names must be strings") from None
        raise exc


def decode_call(body: bytes, content_type: str | None) -> Arguments:
    media = media_type(content_type)
    if media == NPY:
        return Arguments((_decode_npy(body),), {})
    if media != CALL:
        return Arguments((decode(body, media),), {})
    call = values.unpack(body)
    if not (
        isinstance(call, list)
        and len(call) == 2
        and isinstance(call[0], list)
        and isinstance(call[1], dict)
        and all(isinstance(k, str) for k in call[1])
    ):
        raise InvalidInput("A call body must be msgpack [args, kwargs], kwargs keyed by name.")
    return Arguments(tuple(call[0]), call[1])


def decode(body: bytes, content_type: str | None) -> Any:
    """One value (an answer, or a request's only argument) in any of the types above but a call."""
    media = media_type(content_type)
    if media == NPY:
        return _decode_npy(body)
    if media == MSGPACK:
        return values.unpack(body)
    if media in (JSON, VALUE, DATAFRAME):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("The body is not valid JSON.", detail=str(exc)) from None
        if media == DATAFRAME:
            return dataframes.from_split_json(value)
        return _as_array(value) if media == JSON else value
    raise UnsupportedMediaType(detail={"content_type": content_type or None, "accepted": list(ACCEPTED)})


def encode(value: Any, accept: Collection[str] = ACCEPTED) -> tuple[bytes, str]:
    """Encode ``value`` in the best of the ``accept``-ed media types."""
    if type(value) is np.ndarray and not value.dtype.hasobject and NPY in accept:
        return npy.dumps(value), NPY
    if MSGPACK in accept:
        return values.pack(value), MSGPACK
    if dataframes.is_frame(value) and DATAFRAME in accept:
        return dataframes.to_split_json(value), DATAFRAME
    if dataframes.is_frame(value):
        value = value.to_dict(orient="records") if hasattr(value, "columns") else value.tolist()
    media = VALUE if VALUE in accept else JSON
    return orjson.dumps(value, default=dataframes.json_default, option=_JSON_OPTIONS), media


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
