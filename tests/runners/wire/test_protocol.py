import io
import pickle

import numpy as np
import orjson
import pandas as pd
import pytest

from runners.errors import InvalidInput, UnsupportedMediaType
from runners.wire import protocol


def npy(array: np.ndarray, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def test_arrays_round_trip_as_npy_with_dtype_and_order() -> None:
    for array in (np.arange(12.0).reshape(3, 4), np.asfortranarray(np.ones((2, 3), np.int32)), np.array(True)):
        body, media = protocol.encode(array)
        assert media == protocol.NPY
        back = protocol.decode(body, media)
        assert back.dtype == array.dtype and np.array_equal(back, array)
        assert back.flags.writeable


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", b"\x93NUMPY\x01\x00", npy(np.zeros(4))[:-8], npy(np.zeros(4)) + b"extra"],
)
def test_broken_npy_bodies_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        protocol.decode(body, protocol.NPY)


def test_object_arrays_would_need_pickle_and_are_refused() -> None:
    body = npy(np.array([1, "a", None], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInput, match="refused"):
        protocol.decode(body, protocol.NPY)


def test_a_header_claiming_a_huge_array_is_refused_before_allocating() -> None:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    body = b"\x93NUMPY\x01\x00" + len(header.ljust(118)).to_bytes(2, "little") + header.ljust(117).encode() + b"\n"
    with pytest.raises(InvalidInput, match="length"):
        protocol.decode(body, protocol.NPY)


@pytest.mark.parametrize("media", ["application/python-pickle", "application/octet-stream", "text/plain", None])
def test_other_content_types_are_unsupported(media: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        protocol.decode(pickle.dumps([1, 2]), media)


def test_plain_json_lists_become_arrays_but_value_json_stays_as_is() -> None:
    assert isinstance(protocol.decode(b"[[1.5, 2]]", "application/json; charset=utf-8"), np.ndarray)
    assert protocol.decode(b'[{"a": 1}]', protocol.JSON) == [{"a": 1}]
    assert protocol.decode(b"[[1, 2], [3]]", protocol.JSON) == [[1, 2], [3]]
    assert protocol.decode(b"[[1.5, 2]]", protocol.VALUE) == [[1.5, 2]]
    with pytest.raises(InvalidInput):
        protocol.decode(b"[1,", protocol.JSON)


def test_dataframes_keep_columns_dtypes_and_index() -> None:
    frame = pd.DataFrame(
        {
            "sepal_len": [5.9, float("nan")],
            "count": [1, 2],
            "name": ["a", None],
            "flag": [True, False],
            "when": pd.to_datetime(["2020-01-01", "2021-06-01"]).tz_localize("UTC"),
            "maybe": pd.array([1, None], dtype="Int64"),
        },
        index=[7, 9],
    )
    series = pd.Series([1.5, 2.5], name="score")
    for media in (protocol.DATAFRAME, protocol.MSGPACK):
        body, sent_as = protocol.encode(frame, {media})
        assert sent_as == media
        pd.testing.assert_frame_equal(protocol.decode(body, media), frame)
        pd.testing.assert_series_equal(protocol.decode(*protocol.encode(series, {media})), series)


@pytest.mark.parametrize(
    "payload",
    [
        {"columns": ["a"], "dtypes": ["float64"]},
        {"columns": ["a"], "dtypes": ["float64", "int64"], "data": [[1.0]]},
        {"columns": ["a"], "dtypes": ["float64"], "data": [[1.0, 2.0]]},
        {"columns": ["a", "a"], "dtypes": ["float64", "float64"], "data": [[1.0, 2.0]]},
        {"columns": ["a"], "dtypes": ["numpy.core.multiarray._reconstruct"], "data": [[1.0]]},
        {"columns": ["a"], "dtypes": ["int64"], "data": [["x"]]},
        [1, 2],
    ],
)
def test_bad_dataframe_payloads_are_invalid_input(payload: object) -> None:
    with pytest.raises(InvalidInput):
        protocol.decode(orjson.dumps(payload), protocol.DATAFRAME)


def test_answers_follow_what_the_caller_accepts() -> None:
    result = np.array([2, 0])
    assert protocol.encode(result, {protocol.JSON})[1] == protocol.JSON
    assert protocol.encode(result, {protocol.JSON})[0] == b"[2,0]"
    frame = pd.DataFrame({"a": [1]})
    assert protocol.encode(frame, {protocol.JSON}) == (b'[{"a":1}]', protocol.JSON)
    body, media = protocol.encode({"n": np.int64(3), "x": np.float32(0.5)}, {protocol.VALUE})
    assert (orjson.loads(body), media) == ({"n": 3, "x": 0.5}, protocol.VALUE)
    with pytest.raises(TypeError):
        protocol.encode(object(), {protocol.VALUE})
