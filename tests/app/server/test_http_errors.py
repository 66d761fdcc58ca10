"""``app.server.http_errors``: every error is a JSON body, whatever its detail holds."""

from __future__ import annotations

import json

import pytest

from app.server.http_errors import BadInput, error_body, error_response


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_error_body_is_orjson_for_plain_details():
    assert error_body("bad", {"shape": [1, 4]}) == b'{"error":"bad","detail":{"shape":[1,4]}}'
    assert error_body("bad") == b'{"error":"bad"}'


def test_a_detail_with_an_int_over_64_bits_is_still_written():
    # found by reliability.fuzz: an .npy header's shape of 10**32 in the detail made the answer itself fail
    body = json.loads(error_body("bad", {"shape": [10**32, 0]}))
    assert body == {"error": "bad", "detail": {"shape": [10**32, 0]}}


@pytest.mark.parametrize("depth", [300, 5000])
def test_a_detail_nested_past_the_encoders_limits_keeps_the_message(depth):
    body = json.loads(error_body("bad", nested(depth)))
    assert body["error"] == "bad"


def test_error_response_of_a_hostile_detail_is_a_json_400():
    response = error_response(BadInput("bad", detail={"n": 10**40, "deep": nested(2000)}))
    assert response.status_code == 400
    assert json.loads(bytes(response.body))["error"] == "bad"
