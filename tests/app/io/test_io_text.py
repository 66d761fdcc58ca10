from __future__ import annotations

import pytest

from app.io import Text


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


def test_wrong_content_type_is_415(client_for):
    response = client_for(Text()).post("/", json={"a": 1})
    assert response.status_code == 415
    assert response.json()["detail"]["accepted"] == ["text/plain"]


def test_non_string_output_is_a_programming_error():
    with pytest.raises(TypeError):
        Text().to_response(42)


def test_openapi():
    assert Text().openapi_request_body() == {"text/plain": {"schema": {"type": "string"}}}
