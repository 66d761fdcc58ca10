"""Any safe value as msgpack: what a runner call's arguments and results are made of.

    pack(value) -> bytes           # UnsendableValue (a TypeError) naming where the value fails
    unpack(body) -> value          # InvalidInput for bytes that are not such a value

msgpack carries ``None``, ``bool``, ``int`` (64 bits), ``float``, ``str``, ``bytes`` and lists and
dicts of these; extension types carry the rest, each as plain data, never as a pickle:

====  ========================  ==================================================================
code  value                     payload
====  ========================  ==================================================================
1     numpy array               ``.npy`` bytes (``runners.wire.npy``); object dtypes are refused
2     numpy scalar              ``.npy`` bytes of a 0-d array, given back as the scalar
3     tuple                     its items, as a msgpack array
4     pandas DataFrame, Series  columns and dtypes (``runners.wire.dataframes``)
5     pydantic model            the class's import path and its fields (``runners.wire.schemas``)
6     PIL image                 mode, size and raw pixels (``runners.wire.images``)
====  ========================  ==================================================================

Subclasses of ``str``, ``int``, ``float``, ``dict`` and ``list`` (a ``str`` enum, an
``OrderedDict``) travel as their base type. Anything else (a set, a datetime outside a pydantic
model, an arbitrary object) is refused on the sending side, with the path to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from runners.errors import InvalidInput
from runners.wire import dataframes, images, npy, schemas

__all__ = ["UnsendableValue", "pack", "unpack"]

NDARRAY, SCALAR, TUPLE, FRAME, MODEL, IMAGE = 1, 2, 3, 4, 5, 6
_MAX_DEPTH = 32


class UnsendableValue(TypeError):
    """A value the runner hop does not carry; ``path`` says where it sits (``[2]['k']``)."""

    def __init__(self, reason: str, path: str = "", what: str = "the value") -> None:
        self.reason = reason
        self.path = path
        self.what = what  # "argument 0", "argument 'key'", "the result"
        super().__init__(f"{what}{path} cannot be sent over the runner hop: {reason}")

    def named(self, what: str) -> UnsendableValue:
        return UnsendableValue(self.reason, self.path, what)


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise UnsendableValue("numpy arrays of Python objects (dtype object) would need pickling")
        return msgpack.ExtType(NDARRAY, npy.dumps(value))
    if isinstance(value, np.generic):
        if value.dtype.hasobject:
            raise UnsendableValue("numpy object scalars would need pickling")
        return msgpack.ExtType(SCALAR, npy.dumps(np.asarray(value)))
    if isinstance(value, tuple):
        return msgpack.ExtType(TUPLE, pack(list(value)))
    # strict_types sends subclasses here: bool and None are never subclassed, so these are safe.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if dataframes.is_frame(value):
        return msgpack.ExtType(FRAME, pack(dataframes.to_parts(value)))
    if schemas.is_model(value):
        return msgpack.ExtType(MODEL, _pack_with(schemas.to_parts(value), _default_in_model))
    if images.is_image(value):
        return msgpack.ExtType(IMAGE, pack(images.to_parts(value)))
    raise UnsendableValue(f"a {type(value).__module__}.{type(value).__qualname__} is not a value the hop carries")


def _default_in_model(value: Any) -> Any:
    """Inside a pydantic model, the leaves pydantic itself turns into JSON (datetimes, UUIDs) go as it does."""
    try:
        return _default(value)
    except UnsendableValue:
        return schemas.jsonable(value)


def _pack_with(value: Any, default: Callable[[Any], Any]) -> bytes:
    return msgpack.packb(value, default=default, use_bin_type=True, strict_types=True)  # type: ignore[no-any-return]


def pack(value: Any) -> bytes:
    try:
        return _pack_with(value, _default)
    except UnsendableValue:
        raise
    except (OverflowError, ValueError, TypeError, RecursionError) as exc:  # a too large int, a too deep nesting...
        raise UnsendableValue(str(exc) or type(exc).__name__) from None


def locate(value: Any, error: UnsendableValue) -> UnsendableValue:
    """``error`` with the path to the first part of ``value`` that cannot be packed."""
    path, reason = _first_failure(value, "") or ("", error.reason)
    return UnsendableValue(reason, path, error.what)


def _first_failure(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}[{key!r}]"
            found = _first_failure(key, f"{where} (its key)") or _first_failure(item, where)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _first_failure(item, f"{path}[{index}]")
            if found:
                return found
        return None
    try:
        pack(value)
    except UnsendableValue as exc:
        return path, exc.reason
    return None


def unpack(body: bytes, depth: int = 0) -> Any:
    """The value in ``body``; ``depth`` counts the extension values it sits in (each one a nested unpack)."""
    if depth > _MAX_DEPTH:  # every level is a C unpacker on the stack: refuse before it overflows
        raise InvalidInput(f"The body nests extension values (tuples, frames, models) deeper than {_MAX_DEPTH}.")
    try:
        return msgpack.unpackb(body, ext_hook=_HOOKS[depth], raw=False, strict_map_key=False)
    except InvalidInput:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, msgpack.UnpackException) as exc:
        raise InvalidInput("The body is not a valid msgpack value.", detail=f"{type(exc).__name__}: {exc}") from None


def _ext_hook(code: int, data: bytes, depth: int) -> Any:
    unpack = functools.partial(_unpack, depth=depth + 1)
    if code == NDARRAY or code == SCALAR:
        try:
            array = npy.loads(data)
        except npy.NpyError as exc:
            raise InvalidInput("An array in the body is not a valid plain .npy array.", detail=str(exc)) from None
        return array[()] if code == SCALAR else array
    if code == TUPLE:
        items = unpack(data)
        if not isinstance(items, list):
            raise InvalidInput("A tuple in the body does not hold a list of items.")
        return tuple(items)
    if code == FRAME:
        return dataframes.from_parts(unpack(data))
    if code == MODEL:
        return schemas.from_parts(unpack(data))
    if code == IMAGE:
        return images.from_parts(unpack(data))
    raise InvalidInput("The body holds a msgpack extension type the runner does not know.", detail={"code": code})


_unpack = unpack
_HOOKS = [functools.partial(_ext_hook, depth=d) for d in range(_MAX_DEPTH + 1)]
