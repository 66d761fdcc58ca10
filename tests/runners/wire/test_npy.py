"""``runners.wire.npy``: byte-compatible with numpy's .npy in both directions, never unpickling."""

import io

import numpy as np
import pytest

from runners.wire import npy

ARRAYS = [
    np.array([[5.9, 3.0, 5.1, 1.8]]),
    np.arange(3, dtype=np.float32),
    np.arange(6, dtype=">i4").reshape(2, 3),
    np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    np.arange(24).reshape(2, 3, 4)[:, ::2],  # not contiguous
    np.float64(2.5).reshape(()),
    np.zeros((0, 4)),
    np.array(["ab", "c"]),
    np.array([True, False]),
    np.array([1 + 2j]),
    np.array(["2026-01-01"], dtype="datetime64[ns]"),
    np.zeros(2, dtype=[("a", "<f8"), ("b", "<i2")]),
]


def numpy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def from_header(body: bytes) -> np.ndarray:
    shape, fortran, dtype, offset = npy.read_header(body)
    count = int(np.prod(shape))
    flat = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_numpy_reads_what_we_write_and_we_read_what_numpy_writes(array: np.ndarray) -> None:
    ours = npy.dumps(array)
    loaded = np.load(io.BytesIO(ours), allow_pickle=False)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert (len(ours) - len(array.tobytes())) % 64 == 0  # the data starts aligned, as numpy's does

    for body in (ours, numpy_bytes(array)):
        read = from_header(body)
        assert read.dtype == array.dtype and read.shape == array.shape
        np.testing.assert_array_equal(read, array)


def test_the_fast_path_agrees_with_numpys_reader() -> None:
    for array in ARRAYS:
        body = numpy_bytes(array)
        assert npy.read_header(body) == npy._numpy_header(body)


def test_object_arrays_are_never_written_and_their_headers_say_so() -> None:
    with pytest.raises(ValueError, match="objects"):
        npy.dumps(np.array([{"a": 1}], dtype=object))
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    body = npy.MAGIC + b"\x01\x00" + len(header + "\n").to_bytes(2, "little") + (header + "\n").encode()
    assert npy.read_header(body).dtype.hasobject  # the caller refuses it before building anything


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not npy at all",
        npy.MAGIC + b"\x01\x00\x10\x00{'descr': 'junk'}",
        npy.MAGIC + b"\x09\x00\x00\x00",
        npy.MAGIC + b"\x01\x00\xff\xff{",
    ],
)
def test_malformed_headers_are_value_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        npy.read_header(body)


def _header_only(shape: str, data: bytes = b"", descr: str = "'<f8'") -> bytes:
    text = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}".encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return npy.MAGIC + b"\x01\x00" + len(text).to_bytes(2, "little") + text + data


@pytest.mark.parametrize(
    ("shape", "data"),
    [
        ("(99999999999999999999999999999999, 0)", b""),  # size 0, yet no array has that dimension
        ("(99999999999999999999999999999999, 0)", b"x" * 32),  # would put the huge int in the detail
        ("(-1, -4)", b"x" * 32),  # prod is 4: the length check alone passes it
        ("(-2, -2)", b"x" * 32),
        ("(9223372036854775807, 9223372036854775807, 0)", b""),  # each fits int64, numpy still refuses
    ],
)
def test_a_header_shape_no_array_can_have_is_malformed(shape: str, data: bytes) -> None:
    # found by reliability.fuzz: these raised ValueError (a 500) or a detail orjson cannot write
    with pytest.raises(npy.NpyError) as caught:
        npy.loads(_header_only(shape, data))
    assert caught.value.reason == "malformed"
    assert caught.value.detail is None


@pytest.mark.parametrize("descr", ["'<f0'", "'<i0'", "'<x9'", "'|q1'"])
def test_a_descr_numpy_does_not_know_is_malformed(descr: str) -> None:
    # found by reliability.fuzz: the fast path's np.dtype raised TypeError, which loads let through (500)
    with pytest.raises(npy.NpyError) as caught:
        npy.loads(_header_only("(1, 4)", b"x" * 32, descr=descr))
    assert caught.value.reason == "malformed"


def test_client_descrs_do_not_grow_the_dtype_cache_for_good() -> None:
    for n in range(1, 2000):
        npy.loads(_header_only("(1,)", b"x" * 4 * n, descr=f"'<U{n}'"))
    assert len(npy._dtypes) <= npy._MAX_CACHED
