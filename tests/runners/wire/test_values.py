"""``runners.wire.values``: every value kind the hop carries, round trip, and what it refuses."""

import datetime
import enum
import pickle
import uuid
from collections import OrderedDict
from typing import Any

import msgpack
import numpy as np
import pandas as pd
import pydantic
import pytest
from PIL import Image

from runners.errors import InvalidInput
from runners.wire import values
from runners.wire.values import UnsendableValue


class Point(pydantic.BaseModel):
    x: float
    y: float
    label: str = ""


class Shape(pydantic.BaseModel):
    name: str
    points: list[Point]
    made: datetime.datetime
    ident: uuid.UUID
    raw: bytes = b""


class Colour(str, enum.Enum):
    RED = "red"


def round_trip(value: Any) -> Any:
    return values.unpack(values.pack(value))


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -(2**63), 2**64 - 1, 1.5, float("inf"), "", "héllo", b"\x00\xff", [], {}, [1, [2, "x"]],
     {"a": {"b": [None, 1.0]}, 3: "int key"}],
)
def test_plain_values_come_back_equal_and_of_the_same_type(value: Any) -> None:
    back = round_trip(value)
    assert back == value and type(back) is type(value)


def test_tuples_stay_tuples_and_subclasses_travel_as_their_base() -> None:
    assert round_trip((1, (2, "x"), [3])) == (1, (2, "x"), [3])
    assert type(round_trip((1,))) is tuple
    assert round_trip([Colour.RED, OrderedDict(a=1), bytearray(b"z")]) == ["red", {"a": 1}, b"z"]
    assert type(round_trip([Colour.RED])[0]) is str


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12.0).reshape(3, 4),
        np.asfortranarray(np.ones((2, 3), np.int32)),
        np.array([True, False]),
        np.array(["a", "bcd"]),
        np.array([b"x", b"yz"]),
        np.array([1 + 2j], np.complex64),
        np.array(["2020-01-01"], "datetime64[ns]"),
        np.zeros((0, 4), np.uint8),
        np.array(3.5),
        np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]),
    ],
)
def test_arrays_keep_dtype_shape_and_values(array: np.ndarray) -> None:
    back = round_trip({"x": array})["x"]
    assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
    assert back.flags.writeable


def test_numpy_scalars_come_back_as_numpy_scalars() -> None:
    for scalar in (np.float32(0.5), np.int64(7), np.bool_(True), np.str_("s")):
        back = round_trip(scalar)
        assert type(back) is type(scalar) and back == scalar


def test_dataframes_and_series_keep_columns_dtypes_index_and_name() -> None:
    frame = pd.DataFrame(
        {
            "f": [5.9, float("nan")],
            "i": np.array([1, 2], np.int16),
            "s": ["a", None],
            "b": [True, False],
            "when": pd.to_datetime(["2020-01-01", "2021-06-01"]),
            "zoned": pd.to_datetime(["2020-01-01", "2021-06-01"]).tz_localize("Europe/Paris"),
            "nullable": pd.array([1, None], dtype="Int64"),
            "cat": pd.Categorical(["x", "y"]),
            2: [0.1, 0.2],
        },
        index=pd.Index(["r1", "r2"]),
    )
    pd.testing.assert_frame_equal(round_trip(frame), frame)
    plain = pd.DataFrame({"a": [1.0, 2.0]})
    pd.testing.assert_frame_equal(round_trip(plain), plain)
    series = pd.Series([1, 2, 3], name="count", index=[10, 20, 30], dtype="int32")
    pd.testing.assert_series_equal(round_trip(series), series)
    empty = pd.DataFrame({"a": pd.Series([], dtype="float64")})
    pd.testing.assert_frame_equal(round_trip(empty), empty)


def test_pydantic_models_are_rebuilt_as_their_class_with_nested_models_and_json_leaves() -> None:
    shape = Shape(
        name="tri",
        points=[Point(x=0, y=1, label="a"), Point(x=2, y=3)],
        made=datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
        ident=uuid.uuid4(),
        raw=b"\xff\x00",
    )
    back = round_trip([shape, (Point(x=1, y=1),)])
    assert type(back[0]) is Shape and back[0] == shape
    assert type(back[1][0]) is Point


def test_pil_images_keep_mode_size_pixels_and_palette() -> None:
    rgb = Image.fromarray(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3), "RGB")
    gray = Image.new("L", (5, 1), 7)
    palette = Image.new("P", (2, 2))
    palette.putpalette([0, 0, 0, 255, 0, 0] * 128)
    palette.putpixel((1, 1), 1)
    for image in (rgb, gray, palette, Image.new("F", (2, 2), 0.5), Image.new("RGBA", (1, 1), (1, 2, 3, 4))):
        back = round_trip(image)
        assert (back.mode, back.size, back.tobytes()) == (image.mode, image.size, image.tobytes())
    assert round_trip(palette).convert("RGB").getpixel((1, 1)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({1, 2}, "", "builtins.set"),
        ([1, {"k": object()}], "[1]['k']", "builtins.object"),
        ({(1, 2): 3, "x": [datetime.date(2020, 1, 1)]}, "['x'][0]", "datetime.date"),
        ((1, np.array([None, 1])), "[1]", "dtype object"),
        (2**64, "", "out of range"),
        (pd.DataFrame({"p": pd.period_range("2020", periods=2, freq="M")}), "", "period"),
        (pd.DataFrame({"a": [1]}, index=pd.MultiIndex.from_tuples([(1, 2)])), "", "MultiIndex"),
    ],
)
def test_values_the_hop_does_not_carry_are_refused_with_where_they_are(value: Any, path: str, reason: str) -> None:
    with pytest.raises(UnsendableValue) as caught:
        values.pack(value)
    located = values.locate(value, caught.value).named("argument 'x'")
    assert located.path == path and reason in located.reason
    assert str(located).startswith(f"argument 'x'{path} cannot be sent")


def test_a_model_defined_in_a_function_cannot_be_named_for_the_runner() -> None:
    class Local(pydantic.BaseModel):
        a: int

    with pytest.raises(UnsendableValue, match="inside a function"):
        values.pack(Local(a=1))


def ext(code: int, payload: Any) -> bytes:
    data = payload if isinstance(payload, bytes) else msgpack.packb(payload, use_bin_type=True)
    return msgpack.packb(msgpack.ExtType(code, data), use_bin_type=True)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xc1",  # a byte msgpack never uses
        b"\x92\x01",  # an array of two with one item
        msgpack.packb([1]) + b"extra",
        ext(99, b""),
        ext(values.NDARRAY, pickle.dumps(np.arange(3))),
        ext(values.NDARRAY, b"\x93NUMPY\x01\x00garbage"),
        ext(values.TUPLE, {"not": "a list"}),
        ext(values.FRAME, {"columns": ["a"], "dtypes": ["numpy.core.multiarray._reconstruct"], "data": [[1]]}),
        ext(values.FRAME, {"columns": ["a"], "dtypes": ["int64"], "data": [["x"]]}),
        ext(values.FRAME, {"columns": ["a", "b"], "dtypes": ["int64", "int64"], "data": [[1], [1, 2]]}),
        ext(values.MODEL, ["os:system", {}]),
        ext(values.MODEL, ["builtins:dict", {}]),
        ext(values.MODEL, ["no_such_module_here:Model", {}]),
        ext(values.MODEL, [f"{__name__}:Point", {"x": "not a number", "y": 1}]),
        ext(values.MODEL, "not a list"),
        ext(values.IMAGE, ["RGB", 2, 2, b"short"]),
        ext(values.IMAGE, ["NOPE", 1, 1, b"x"]),
        ext(values.IMAGE, ["L", 10**6, 10**6, b""]),
    ],
)
def test_bodies_that_are_not_safe_values_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        values.unpack(body)


def test_deep_nesting_is_invalid_input_not_a_crash() -> None:
    body = b"\x91" * 100_000 + b"\xc0"
    with pytest.raises(InvalidInput):
        values.unpack(body)
    nested = msgpack.packb(None)
    for _ in range(5000):
        nested = msgpack.packb(msgpack.ExtType(values.TUPLE, b"\x91" + nested))
    with pytest.raises(InvalidInput):
        values.unpack(nested)


def test_a_model_named_by_a_file_this_process_has_not_loaded_is_refused_without_running_it(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "script.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\nimport pydantic\nclass M(pydantic.BaseModel):\n    a: int = 0\n")
    with pytest.raises(InvalidInput) as caught:
        values.unpack(ext(values.MODEL, [f"{script}:M", {}]))
    assert "has not loaded" in str(caught.value.detail) and not marker.exists()

    from runners.imports import import_target

    cls = import_target(f"{script}:M")  # loaded by this process (as a runner loads its runnable's file)
    assert marker.exists()
    back = values.unpack(values.pack(cls(a=3)))
    assert type(back) is cls and back.a == 3
