"""``app.io.codec``: JSON-safe validation errors, even for inputs nested past orjson's depth limit."""

from __future__ import annotations

import orjson
import pydantic

from app.io.codec import validation_detail


def test_validation_detail_of_a_deeply_nested_input_names_its_type():
    # found by reliability.fuzz: the echoed input made orjson raise "Recursion limit reached" (500)
    value = orjson.loads(b'{"a":' * 1000 + b"1" + b"}" * 1000)
    try:
        pydantic.TypeAdapter(dict[str, list[float]]).validate_python(value)
    except pydantic.ValidationError as exc:
        detail = validation_detail(exc)
    assert detail[0]["loc"] == ["a"]
    assert detail[0]["input"] == "dict"
    orjson.dumps(detail)


def test_validation_detail_keeps_a_plain_input():
    try:
        pydantic.TypeAdapter(list[float]).validate_python(["x"])
    except pydantic.ValidationError as exc:
        detail = validation_detail(exc)
    assert detail[0]["input"] == "x"



def detail_of(adapter: pydantic.TypeAdapter[object], body: bytes | str) -> dict[str, object]:
    try:
        adapter.validate_json(body) if isinstance(body, bytes) else adapter.validate_python(body)
    except pydantic.ValidationError as exc:
        (detail,) = validation_detail(exc)
        return detail
    raise AssertionError("the input was valid")


def test_validation_detail_does_not_repeat_a_long_body_whole():
    # a body that is not JSON is echoed whole by pydantic: a 20 MB body would get a 20 MB error
    assert detail_of(pydantic.TypeAdapter(list[int]), b"[" * 5000)["input"] == "[" * 256 + "..."
    assert detail_of(pydantic.TypeAdapter(int), "x" * 5000)["input"] == "x" * 256 + "..."
    assert detail_of(pydantic.TypeAdapter(int), "short")["input"] == "short"
