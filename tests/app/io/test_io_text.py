from __future__ import annotations

import pytest

from app.io import Text
from app.server.http_errors import BadOutput


def test_text_round_trip(client_for):
    client = client_for(Text(), handler=str.upper)
    response = client.post("/", content="héllo".encode(), headers={"content-type": "text/plain"})
    assert response.status_code == 200
    assert response.text == "HÉLLO"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_declared_charset_is_honoured(client_for):
    client = client_for(Text())
    headers = {"content-type": "text/plain; charset=latin-1"}
    response = client.post("/", content="héllo".encode("latin-1"), headers=headers)
    assert response.text == "héllo"


def test_missing_content_type_is_text(client_for):
    assert client_for(Text()).post("/", content=b"plain").text == "plain"


def test_invalid_utf8_is_400(client_for):
    client = client_for(Text())
    response = client.post("/", content=b"\xff\xfe\xfa", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert "utf-8" in response.json()["error"]
    assert client.post("/", content=b"fine", headers={"content-type": "text/plain"}).text == "fine"


def test_unknown_charset_is_400(client_for):
    response = client_for(Text()).post("/", content=b"x", headers={"content-type": "text/plain; charset=klingon"})
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["application/json", "application/text", "application/octet-stream"])
def test_any_content_type_is_read_as_text(client_for, content_type):
    # BentoML's Text takes any content type; its own README curls send application/json.
    response = client_for(Text()).post("/", content=b'{"a": 1}', headers={"content-type": content_type})
    assert response.status_code == 200
    assert response.text == '{"a": 1}'


def test_empty_body_without_content_type(client_for):
    response = client_for(Text()).post("/")
    assert response.status_code == 200
    assert response.text == ""


def test_none_answers_an_empty_body():
    response = Text().to_response(None)
    assert response.body == b""
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_non_string_output_is_the_apis_fault():
    with pytest.raises(BadOutput, match="must be a str, not int"):
        Text().to_response(42)
    with pytest.raises(BadOutput):
        Text().to_response(b"\xff")


def test_openapi_documents_any_content_type():
    assert Text().openapi_request_body() == {
        "text/plain": {"schema": {"type": "string"}},
        "*/*": {"schema": {"type": "string"}},
    }
    assert Text().openapi_responses() == {"text/plain": {"schema": {"type": "string"}}}


def test_from_sample_is_the_example():
    desc = Text.from_sample("Hello, world")
    assert desc.sample == "Hello, world"
    assert desc.openapi_request_body()["text/plain"]["example"] == "Hello, world"
    assert "example" not in desc.openapi_request_body()["*/*"]
    assert Text.from_sample(b"bytes").sample == "bytes"
    with pytest.raises(ValueError):
        Text.from_sample(3)
