from __future__ import annotations

import io
from typing import Annotated, Any, Optional

import numpy as np
import numpy.typing as npt
import pandas as pd
import PIL.Image
import pytest
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from app.io import JSON, File, NumpyNdarray, PandasDataFrame, Text
from app.io.annotations import JSONBody, TypedJSON, descriptor_for_annotation, json_body_model

EXAMPLE = "Breaking News: a cat jumped."
POINT = "#/components/schemas/Point"
NUMBER = {"type": "number"}


class Point(BaseModel):
    x: float
    y: float = 0.0


class Summarization:
    def summarize(self, text: str = EXAMPLE, max_len: int = 10) -> str:
        return text[:max_len]

    def classify(self, features: np.ndarray, point: Point, tags: Optional[list[str]] = None) -> dict[str, Any]:  # noqa: UP045
        return {}

    def table(self, frame: pd.DataFrame, weights: npt.NDArray[np.float32]) -> pd.DataFrame:
        return frame


@pytest.mark.parametrize(
    "tp, kind",
    [
        (str, Text),
        (np.ndarray, NumpyNdarray),
        (npt.NDArray[np.float64], NumpyNdarray),
        (pd.DataFrame, PandasDataFrame),
        (bytes, File),
        (Annotated[str, "meta"], Text),
        (Any, JSON),
    ],
)
def test_descriptor_for_simple_annotations(tp, kind):
    assert type(descriptor_for_annotation(tp)) is kind


def test_pydantic_model_annotation():
    desc = descriptor_for_annotation(Point)
    assert isinstance(desc, JSON) and desc.pydantic_model is Point


@pytest.mark.parametrize(
    "tp, value, encoded, schema",
    [
        (dict[str, float], {"a": np.float64(1.5)}, {"a": 1.5}, {"type": "object", "additionalProperties": NUMBER}),
        (list[int], (1, 2), [1, 2], {"type": "array", "items": {"type": "integer"}}),
        (int, 3, 3, {"type": "integer"}),
        (None, None, None, {"type": "null"}),
        (list[Point], [Point(x=1)], [{"x": 1.0, "y": 0.0}], {"type": "array", "items": {"$ref": POINT}}),
        (dict[str, np.ndarray], {"a": np.arange(2)}, {"a": [0, 1]}, None),
    ],
)
def test_typed_json_encodes_by_annotation(client_for, tp, value, encoded, schema):
    desc = descriptor_for_annotation(tp)
    assert isinstance(desc, TypedJSON)
    response = desc.to_response(value)
    assert response.media_type == "application/json"
    assert client_for(JSON(), handler=lambda _: value, output=desc).post("/", json={}).json() == encoded
    if schema is not None:
        assert desc.openapi_responses()["application/json"]["schema"] == schema


def test_typed_json_components():
    assert "Point" in descriptor_for_annotation(list[Point]).openapi_components()


def test_json_body_model_fields_and_defaults():
    model = json_body_model(Summarization.summarize)
    assert model.__name__ == "SummarizeInput"
    assert list(model.model_fields) == ["text", "max_len"]
    assert model().text == EXAMPLE
    schema = model.model_json_schema()
    assert schema["properties"]["text"]["default"] == EXAMPLE
    assert schema["properties"]["max_len"]["type"] == "integer"


def test_json_body_with_empty_body_uses_defaults(client_for):
    client = client_for(JSONBody(json_body_model(Summarization.summarize)))
    assert client.post("/", content=b"", headers={"content-type": "application/json"}).json() == {
        "text": EXAMPLE,
        "max_len": 10,
    }
    assert client.post("/", json={}).status_code == 200
    assert client.post("/", json={"text": "hi"}).json() == {"text": "hi", "max_len": 10}


def test_json_body_errors(client_for):
    client = client_for(JSONBody(json_body_model(Summarization.summarize)))
    response = client.post("/", json={"max_len": "many"})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["max_len"]
    assert client.post("/", json=["text"]).status_code == 400
    assert client.post("/", json={"txt": "typo"}).status_code == 400
    assert client.post("/", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/", json={"text": "ok"}).status_code == 200


def test_json_body_with_arrays_and_models(client_for):
    client = client_for(JSONBody(json_body_model(Summarization.classify)), handler=lambda kw: {"ok": True})
    response = client.post("/", json={"features": [[1, 2]], "point": {"x": 1}})
    assert response.status_code == 200
    kwargs = client.seen[0]
    assert isinstance(kwargs["features"], np.ndarray) and kwargs["features"].shape == (1, 2)
    assert kwargs["point"] == Point(x=1)
    assert kwargs["tags"] is None
    response = client.post("/", json={"features": [[1, 2], [3]], "point": {"x": 1}})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["features"]


def test_json_body_with_dataframe_and_typed_array(client_for):
    client = client_for(JSONBody(json_body_model(Summarization.table)), handler=lambda kw: {})
    assert client.post("/", json={"frame": [{"a": 1}], "weights": [1, 2]}).status_code == 200
    kwargs = client.seen[0]
    assert isinstance(kwargs["frame"], pd.DataFrame)
    assert kwargs["weights"].dtype == np.float32


def test_json_body_openapi():
    desc = JSONBody(json_body_model(Summarization.classify))
    assert desc.openapi_request_body() == {
        "application/json": {"schema": {"$ref": "#/components/schemas/ClassifyInput"}}
    }
    components = desc.openapi_components()
    assert set(components) == {"ClassifyInput", "Point"}
    assert components["ClassifyInput"]["properties"]["features"]["type"] == "array"


def test_json_fields_and_typed_json_are_held_to_their_schema(client_for):
    # Found by schemathesis: {"a": 0, "b": false} answered 200 where b is documented as an integer.
    client = client_for(JSONBody(json_body_model(Summarization.summarize)))
    for wrong in (False, "10", 1.5):
        assert client.post("/", json={"max_len": wrong}).status_code == 400, wrong
    assert client.post("/", json={"max_len": 3}).status_code == 200
    assert client.post("/", json={"max_len": 3.0}).json()["max_len"] == 3  # JSON Schema's integers include 3.0
    typed = client_for(TypedJSON(dict[str, int]))
    assert typed.post("/", json={"a": False}).status_code == 400
    assert typed.post("/", json={"a": "1"}).status_code == 400
    assert typed.post("/", json={"a": 1}).status_code == 200
    assert typed.post("/", json={"a": 2.0, "b": 1}).status_code == 200
    assert typed.post("/", json={"a": 2.5}).status_code == 400
    assert not JSONBody(json_body_model(Summarization.classify)).accepts_empty_body
    assert JSONBody(json_body_model(Summarization.summarize)).accepts_empty_body


def test_string_annotations_are_resolved():
    # this module uses `from __future__ import annotations`
    model = json_body_model(Summarization.summarize)
    assert model.model_fields["max_len"].annotation is int


def test_unresolvable_annotations_fall_back_to_any():
    def f(x: "NoSuchType", y: int = 1) -> None:  # noqa: F821, UP037
        pass

    model = json_body_model(f)
    assert model(x=object()).y == 1
    assert model.model_fields["y"].annotation is int


def test_pydantic_field_defaults_are_kept():
    def f(n: Annotated[int, Field(ge=1)] = 2) -> None:
        pass

    model = json_body_model(f)
    assert model().n == 2
    with pytest.raises(ValueError):
        model(n=0)


# -- PIL images in class-style APIs ------------------------------------------------------------


def test_image_annotations_make_a_multipart_body_and_a_png_answer():
    from app import api, service

    @service
    class Vision:
        @api
        def shade(self, image: PIL.Image.Image, factor: float = 0.5, label: str = "x") -> PIL.Image.Image:
            pixels = (np.asarray(image.convert("RGB")) * factor).astype(np.uint8)
            return PIL.Image.fromarray(pixels)

        @api
        def describe(
            self,
            image: PIL.Image.Image,
            label: Optional[str] = None,
            box: Optional[list[int]] = None,  # noqa: UP045
        ) -> dict:
            return {"size": list(image.size), "label": label, "box": box}

    buffer = io.BytesIO()
    PIL.Image.new("RGB", (4, 3), (200, 100, 50)).save(buffer, format="PNG")
    png = buffer.getvalue()
    with TestClient(Vision.to_asgi()) as client:
        response = client.post("/shade", files={"image": ("a.png", png, "image/png")}, data={"factor": "0.5"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert PIL.Image.open(io.BytesIO(response.content)).getpixel((0, 0)) == (100, 50, 25)
        files = {"image": ("a.png", png, "image/png")}
        response = client.post("/describe", files=files, data={"label": "123", "box": "[1, 2, 3, 4]"})
        assert response.json() == {"size": [4, 3], "label": "123", "box": [1, 2, 3, 4]}  # a str field stays a string
        assert client.post("/describe", json={"label": "x"}).status_code == 415
        missing = client.post("/describe", data={"label": "x"}, files={"other": ("o.txt", b"", "text/plain")})
        assert missing.status_code == 400
        bad = client.post("/describe", files={"image": ("a.txt", b"text", "text/plain")})
        assert bad.status_code == 400 and bad.json()["error"].startswith("Part 'image': ")
        wrong = client.post("/describe", files=files, data={"box": "not a list"})
        assert wrong.status_code == 400
        doc = client.get("/docs.json").json()
    body = doc["paths"]["/describe"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    assert "image/png" in body["multipart/form-data"]["encoding"]["image"]["contentType"]
    schema = doc["components"]["schemas"]["DescribeInput"]
    assert schema["properties"]["image"]["format"] == "binary"
    assert schema["required"] == ["image"]
    assert list(doc["paths"]["/shade"]["post"]["responses"]["200"]["content"]) == ["image/png"]


def test_image_return_annotation():
    from app.io import Image

    desc = descriptor_for_annotation(PIL.Image.Image)
    assert isinstance(desc, Image) and desc.mime_type == "image/png"


class Big:
    def add(self, a: int, b: int = 1) -> int:
        return a + b

    def bounded(self, times: Annotated[int, Field(le=5)] = 1) -> int:
        return times


def test_integers_past_64_bits_are_answered_not_a_500(client_for):
    # Found by schemathesis: {"a": 231251806356831862784} made orjson fail on the answer (500).
    add = JSONBody(json_body_model(Big.add))
    client = client_for(add, handler=lambda kw: kw["a"] + kw["b"], output=descriptor_for_annotation(int))
    response = client.post("/", content=b'{"a": 231251806356831862784}', headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.text == "231251806356831862785"
    # ... and so is the 400 for one out of bounds, whose detail echoes the input
    bounded = client_for(JSONBody(json_body_model(Big.bounded)))
    response = bounded.post(
        "/", content=b'{"times": 10000000000000000000000}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"][0]["input"] == 1e22


def test_typed_json_nested_past_the_encoders_limit_is_400():
    # found by reliability.fuzz: writing the validation error (which echoes the input) failed, a 500
    from app import Service

    svc = Service("typed_deep")

    @svc.api(input=TypedJSON(dict[str, list[float]]), output=JSON())
    def typed(value):
        return len(value)

    body = b'{"a":' * 1000 + b"1" + b"}" * 1000
    with TestClient(svc.to_asgi(), raise_server_exceptions=False) as client:
        response = client.post("/typed", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    detail = response.json()["detail"][0]
    assert detail["type"] == "json_invalid" and "recursion limit" in detail["msg"]
    assert detail["input"] == body.decode()[:256] + "..."  # the body is not repeated whole
