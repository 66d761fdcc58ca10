"""The descriptors inside a served ``Service`` (in-process): how the API is called and documented."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
import PIL.Image
import pytest
from starlette.testclient import TestClient

from app import Service
from app.io import JSON, File, Image, Multipart, NumpyNdarray, PandasDataFrame, PandasSeries, Text

openapi_spec_validator = pytest.importorskip("openapi_spec_validator")


def make_service() -> Service:
    svc = Service("io_served")

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray(shape=(2, 2), enforce_shape=True))
    def wrong_shape(x):
        return x

    @svc.api(input=Text(), output=Text())
    def not_text(text):
        return 42

    @svc.api(input=Multipart(a=NumpyNdarray(), b=Text()), output=JSON())
    async def kwargs(b, a):
        return {"a": a.tolist(), "b": b}

    @svc.api(input=Text(), output=Multipart(text=Text(), picture=Image(mime_type="image/png")))
    def two_parts(text):
        return {"text": text, "picture": np.zeros((2, 2, 3), dtype=np.uint8)}

    @svc.api(
        input=NumpyNdarray.from_sample(np.array([[1.0, 2.0]])),
        output=PandasDataFrame.from_sample(pd.DataFrame({"y": [0.5]})),
    )
    def sampled(x):
        return pd.DataFrame({"y": x[:, 0]})

    @svc.api(input=Image(), output=Image(mime_type="image/png"))
    def image(img):
        return img

    @svc.api(input=PandasSeries(), output=File(mime_type="text/csv"))
    def series(s):
        return s.to_csv(index=False)

    return svc


@pytest.fixture
def client():
    with TestClient(make_service().to_asgi(), raise_server_exceptions=False) as c:
        yield c


def test_output_that_breaks_the_declaration_is_500_naming_the_api(client, caplog):
    with caplog.at_level(logging.ERROR, logger="tiffin.error"):
        response = client.post("/wrong_shape", json=[1, 2, 3])
    assert response.status_code == 500
    body = response.json()
    assert "'wrong_shape'" in body["error"]
    assert body["detail"] == {"expected_shape": [2, 2], "got_shape": [3]}
    assert "wrong_shape" in caplog.text  # the traceback is logged under the request id
    assert client.post("/wrong_shape", json=[[1, 2], [3, 4]]).json() == [[1, 2], [3, 4]]


def test_non_text_result_is_500_naming_the_api(client):
    response = client.post("/not_text", content="x")
    assert response.status_code == 500
    assert response.json()["error"].startswith("The API 'not_text' returned a value its output does not allow.")


def test_multipart_parts_are_keyword_arguments(client):
    files = [("a", ("a.json", b"[1, 2]", "application/json"))]
    response = client.post("/kwargs", data={"b": "bee"}, files=files)
    assert response.status_code == 200
    assert response.json() == {"a": [1, 2], "b": "bee"}


def test_samples_are_in_the_openapi_document_and_it_is_valid(client):
    doc = client.get("/docs.json").json()
    openapi_spec_validator.validate(doc)
    sampled = doc["paths"]["/sampled"]["post"]
    assert sampled["requestBody"]["content"]["application/json"]["example"] == [[1.0, 2.0]]
    assert sampled["responses"]["200"]["content"]["application/json"]["example"] == [{"y": 0.5}]
    kwargs = doc["paths"]["/kwargs"]["post"]["requestBody"]["content"]
    assert list(kwargs) == ["multipart/form-data"]
    assert kwargs["multipart/form-data"]["schema"]["required"] == ["a", "b"]
    image = doc["paths"]["/image"]["post"]
    assert "image/png" in image["requestBody"]["content"]
    assert list(image["responses"]["200"]["content"]) == ["image/png"]
    assert "*/*" in doc["paths"]["/not_text"]["post"]["requestBody"]["content"]
    assert image["requestBody"]["x-tiffin-io"]["type"] == "image"
    assert image["responses"]["200"]["x-tiffin-io"]["mime_type"] == "image/png"
    assert doc["paths"]["/kwargs"]["post"]["requestBody"]["x-tiffin-io"]["parts"]["b"] == {"type": "text"}
    answer = doc["paths"]["/two_parts"]["post"]["responses"]["200"]["content"]["multipart/form-data"]
    assert answer["schema"]["properties"]["picture"] == {"type": "string", "format": "binary"}


def test_sampled_api_takes_and_answers_what_the_samples_say(client):
    response = client.post("/sampled", json=[[3, 4]])
    assert response.status_code == 200
    assert response.json() == [{"y": 3.0}]


def test_image_and_series(client):
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (3, 2), (1, 2, 3)).save(buffer, format="PNG")
    response = client.post("/image", content=buffer.getvalue(), headers={"content-type": "image/png"})
    assert response.headers["content-type"] == "image/png"
    assert PIL.Image.open(io.BytesIO(response.content)).getpixel((0, 0)) == (1, 2, 3)
    assert client.post("/image", json={}).status_code == 400
    assert client.post("/series", json=[1, 2]).text == "0\n1\n2\n"
