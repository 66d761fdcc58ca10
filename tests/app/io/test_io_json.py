from __future__ import annotations

import datetime

import numpy as np
import orjson
import pytest
from pydantic import BaseModel, ConfigDict, field_validator

from app.io import JSON
from app.server.http_errors import BadOutput


class IrisFeatures(BaseModel):
    sepal_len: float
    sepal_width: float
    petal_len: float
    petal_width: float


class Checked(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


GOOD = {"sepal_len": 5.1, "sepal_width": 3.5, "petal_len": 1.4, "petal_width": 0.2}


def test_any_json_without_a_model(client_for):
    client = client_for(JSON())
    assert client.post("/", json={"a": [1, 2, None]}).json() == {"a": [1, 2, None]}
    assert client.post("/", json="text").json() == "text"


def test_model_instance_is_passed_and_dumped(client_for):
    client = client_for(JSON(pydantic_model=IrisFeatures))
    response = client.post("/", json=GOOD)
    assert response.status_code == 200
    assert isinstance(client.seen[0], IrisFeatures)
    assert response.json() == GOOD


def test_validation_failure_is_400_with_pydantic_errors(client_for):
    client = client_for(JSON(pydantic_model=IrisFeatures))
    response = client.post("/", json={**GOOD, "sepal_len": "long"})
    assert response.status_code == 400
    body = response.json()
    assert "IrisFeatures" in body["error"]
    assert body["detail"][0]["loc"] == ["sepal_len"]
    assert body["detail"][0]["type"] == "float_type"  # strict: a string is not a number
    assert "url" not in body["detail"][0]


def test_validator_exceptions_become_json_safe_detail(client_for):
    response = client_for(JSON(pydantic_model=Checked)).post("/", json={"name": " "})
    assert response.status_code == 400
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["name"]
    assert "must not be blank" in detail["msg"]
    assert isinstance(detail["ctx"]["error"], str)


@pytest.mark.parametrize("body", [b"{", b"", b"{'single': 'quotes'}", b"[1,]"])
def test_malformed_json_is_400(client_for, body):
    response = client_for(JSON()).post("/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "The request body is not valid JSON."


def test_wrong_content_type_is_415(client_for):
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = client_for(JSON()).post("/", content=b"a=1", headers=form)
    assert response.status_code == 415
    assert response.json()["detail"] == {
        "content_type": "application/x-www-form-urlencoded",
        "accepted": ["application/json"],
    }


def test_structured_json_types_are_accepted(client_for):
    client = client_for(JSON())
    response = client.post("/", content=b'{"a": 1}', headers={"content-type": "application/merge-patch+json"})
    assert response.status_code == 200


def test_next_request_after_bad_input_still_works(client_for):
    client = client_for(JSON(pydantic_model=IrisFeatures))
    assert client.post("/", json={"sepal_len": 1}).status_code == 400
    assert client.post("/", json=GOOD).status_code == 200


def test_numpy_and_other_values_are_encoded(client_for):
    value = {
        "array": np.arange(3),
        "scalar": np.float32(1.5),
        "model": IrisFeatures(**GOOD),
        "when": datetime.date(2024, 1, 2),
        "set": {1},
    }
    response = client_for(JSON(), handler=lambda _: value).post("/", json={})
    assert response.json() == {"array": [0, 1, 2], "scalar": 1.5, "model": GOOD, "when": "2024-01-02", "set": [1]}


def test_unserialisable_output_is_a_server_error():
    with pytest.raises(BadOutput):
        JSON().to_response({"x": object()})


def test_openapi_refers_to_the_model_component():
    desc = JSON(pydantic_model=IrisFeatures)
    assert desc.openapi_request_body() == {
        "application/json": {"schema": {"$ref": "#/components/schemas/IrisFeatures"}}
    }
    components = desc.openapi_components()
    assert components["IrisFeatures"]["required"] == list(GOOD)
    assert JSON().openapi_request_body() == {"application/json": {"schema": {}}}
    assert JSON().openapi_components() == {}


def test_model_must_be_a_pydantic_model():
    with pytest.raises(TypeError):
        JSON(pydantic_model=dict)  # type: ignore[arg-type]


def test_response_is_compact_json():
    assert orjson.loads(JSON().to_response([1, 2]).body) == [1, 2]


def test_output_with_a_model_is_validated_against_it():
    desc = JSON(pydantic_model=IrisFeatures)
    values = {"sepal_len": 1, "sepal_width": 2, "petal_len": 3, "petal_width": 4}
    assert orjson.loads(desc.to_response(values).body) == {k: float(v) for k, v in values.items()}
    with pytest.raises(BadOutput, match="IrisFeatures") as info:
        desc.to_response({"sepal_len": "long"})
    assert info.value.detail  # pydantic's errors, JSON-safe


def test_from_sample_with_a_model_instance_takes_the_model():
    sample = IrisFeatures(sepal_len=5.1, sepal_width=3.5, petal_len=1.4, petal_width=0.2)
    desc = JSON.from_sample(sample)
    assert desc.pydantic_model is IrisFeatures
    body = desc.openapi_request_body()["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/IrisFeatures"}
    assert body["example"] == {"sepal_len": 5.1, "sepal_width": 3.5, "petal_len": 1.4, "petal_width": 0.2}


def test_from_sample_with_plain_json():
    example = JSON.from_sample({"Hello": "World"}).openapi_request_body()["application/json"]["example"]
    assert example == {"Hello": "World"}
    assert JSON.from_sample('["a", 1]').sample == ["a", 1]
    assert JSON.from_sample(np.array([1, 2])).openapi_example() == [1, 2]
    with pytest.raises(ValueError):
        JSON.from_sample("{not json")
    with pytest.raises(ValueError):
        JSON.from_sample(object())


class Lenient(IrisFeatures):
    model_config = ConfigDict(strict=False)


def test_a_body_is_held_to_the_documented_schema(client_for):
    # Found by schemathesis: pydantic's lax mode took false and "1" where the schema says number.
    client = client_for(JSON(pydantic_model=IrisFeatures))
    for wrong in (False, "1.5", None):
        response = client.post("/", json={**GOOD, "petal_width": wrong})
        assert response.status_code == 400, wrong
        assert response.json()["detail"][0]["loc"] == ["petal_width"]
    assert client.post("/", json={**GOOD, "petal_width": 1}).status_code == 200  # an integer is a number
    lenient = client_for(JSON(pydantic_model=Lenient))  # a model that asks for lax mode gets it
    assert lenient.post("/", json={**GOOD, "petal_width": "1.5"}).status_code == 200
