"""``.npy`` bytes, numpy's own format, read and written without its per-call overhead.

numpy's reader parses every header with ``ast.literal_eval`` (20-30 µs, far more than a 1×4
array's 32 bytes cost to copy), and its writer goes through a file object. The runner hop moves
small arrays both ways on every request, so this module handles the headers numpy writes for
plain dtypes (``{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4), }``) with one regular
expression, and hands everything else (structured or datetime dtypes, version 2/3 headers) to
numpy's reader. Either way the header is read before any array is built, and object dtypes are
refused: nothing is ever unpickled.

    read_header(body) -> Header    # ValueError if malformed
    loads(body) -> ndarray         # NpyError saying which check failed
    dumps(array) -> bytes          # ValueError for object arrays
"""

from __future__ import annotations

import io
import math
import re
from typing import NamedTuple

import numpy as np

__all__ = ["MAGIC", "Header", "NpyError", "dumps", "loads", "read_header"]

MAGIC = b"\x93NUMPY"
_V1 = MAGIC + b"\x01\x00"
_PREFIX = 10  # magic, version, two bytes of header length
_ALIGN = 64
_MAX_HEADER = 10_000
_MAX_DIM = 2**63 - 1  # numpy's npy_intp
_MAX_CACHED = 256
_SIMPLE = re.compile(
    rb"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': (True|False), 'shape': \(((?:\d+, )*\d+,?)?\), \} *\n"
)
_NUMPY_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_dtypes: dict[bytes, np.dtype] = {}


class Header(NamedTuple):
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    offset: int  # where the data starts


def read_header(body: bytes) -> Header:
    """The header of ``.npy`` bytes; ``ValueError`` (with the reason) if it is not a valid one."""
    if body[:8] == _V1 and len(body) >= _PREFIX:
        end = _PREFIX + int.from_bytes(body[8:10], "little")
        match = _SIMPLE.fullmatch(body, _PREFIX, end)
        if match is not None:
            descr, fortran, dims = match.groups()
            dtype = _dtypes.get(descr)
            if dtype is None:
                try:
                    dtype = np.dtype(descr.decode("ascii"))
                except TypeError as exc:  # '<f0', '<x9': the pattern lets through what numpy does not know
                    raise ValueError(f"the header's descr {descr.decode('ascii')!r} is not a dtype") from exc
                if len(_dtypes) < _MAX_CACHED:  # '<U1', '<U2', ... from clients must not grow it for good
                    _dtypes[descr] = dtype
            shape = tuple(int(n) for n in dims.split(b",") if n.strip()) if dims else ()
            return Header(shape, fortran == b"True", dtype, end)
    return _numpy_header(body)


class NpyError(ValueError):
    """Bytes that are not a plain array: ``reason`` is "malformed", "objects" or "length"."""

    def __init__(self, reason: str, message: str, detail: object = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail


def loads(body: bytes) -> np.ndarray:
    """The array in ``.npy`` bytes, checked against its header before it is built; never unpickles."""
    try:
        shape, fortran_order, dtype, offset = read_header(body)
    except ValueError as exc:
        raise NpyError("malformed", str(exc)) from None
    if dtype.hasobject:
        raise NpyError("objects", "the array holds Python objects, which would need unpickling")
    if any(n < 0 or n > _MAX_DIM for n in shape):  # numpy's reader takes any ints; reshape would raise
        raise NpyError("malformed", f"the header's shape {_clip(shape)} has a dimension no array can have")
    count = math.prod(shape)  # exact (no int64 wrap-around for a hostile header), and a C call, not five
    if len(body) - offset != count * dtype.itemsize:
        raise NpyError(
            "length",
            "the data does not match the header",
            {"shape": list(shape), "dtype": dtype.str, "expected_bytes": count * dtype.itemsize,
             "got_bytes": len(body) - offset},
        )
    try:  # a size-0 array may still declare dimensions numpy cannot index ((2**63, 2**63, 0))
        flat = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
        return flat.reshape(shape, order="F" if fortran_order else "C").copy()
    except ValueError as exc:
        raise NpyError("malformed", f"the header's shape {_clip(shape)} cannot be built: {exc}") from None


def _clip(shape: tuple[int, ...]) -> str:
    return f"({', '.join(str(n) if abs(n) <= _MAX_DIM else f'{str(n)[:12]}...' for n in shape[:8])})"


def _numpy_header(body: bytes) -> Header:
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        reader = _NUMPY_READERS.get(version)
        if reader is None:
            raise ValueError(f".npy format version {version} is not supported")
        shape, fortran, dtype = reader(stream, max_header_size=_MAX_HEADER)
    except Exception as exc:  # numpy's parser raises SyntaxError, tokenize errors, EOFError...
        raise ValueError(str(exc) or type(exc).__name__) from None
    return Header(tuple(shape), bool(fortran), dtype, stream.tell())


def dumps(array: np.ndarray) -> bytes:
    """``array`` as ``.npy`` bytes (format 1.0), readable by ``numpy.load(..., allow_pickle=False)``."""
    dtype = array.dtype
    if dtype.hasobject:
        raise ValueError("arrays of Python objects have no .npy form without pickling")
    if dtype.fields is not None or dtype.subdtype is not None:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    fortran = array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous
    text = f"{{'descr': '{dtype.str}', 'fortran_order': {fortran}, 'shape': {array.shape!r}, }}"
    pad = -(_PREFIX + len(text) + 1) % _ALIGN
    header = (text + " " * pad + "\n").encode("latin-1")
    data = array.tobytes(order="F" if fortran else "C")
    return b"".join((_V1, len(header).to_bytes(2, "little"), header, data))
