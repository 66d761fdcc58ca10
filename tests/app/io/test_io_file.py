from __future__ import annotations

import io

import pytest

from app.io import File
from app.server.http_errors import BadOutput

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_any_bytes(client_for):
    client = client_for(File())
    response = client.post("/", content=PNG, headers={"content-type": "image/png"})
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "application/octet-stream"
    assert client.post("/", content=b"").content == b""


def test_declared_mime_type_restricts_and_labels(client_for):
    client = client_for(File(mime_type="image/png"))
    response = client.post("/", content=PNG, headers={"content-type": "image/png"})
    assert response.headers["content-type"] == "image/png"
    response = client.post("/", content=PNG, headers={"content-type": "image/jpeg"})
    assert response.status_code == 415
    assert response.json()["detail"]["accepted"] == ["image/png"]


def test_mime_type_range(client_for):
    client = client_for(File(mime_type="image/*"))
    assert client.post("/", content=PNG, headers={"content-type": "image/webp"}).status_code == 200
    assert client.post("/", content=PNG, headers={"content-type": "text/plain"}).status_code == 415


def test_multipart_upload_gives_the_first_file(client_for):
    client = client_for(File(mime_type="image/png"))
    response = client.post("/", data={"note": "x"}, files={"file": ("a.png", io.BytesIO(PNG), "image/png")})
    assert response.status_code == 200
    assert response.content == PNG
    response = client.post("/", files={"file": ("a.txt", io.BytesIO(b"x"), "text/plain")})
    assert response.status_code == 415


@pytest.mark.parametrize(
    "content, content_type",
    [
        (b"note=x", "multipart/form-data; boundary=xyz"),
        (b"--xyz\r\ngarbage", "multipart/form-data; boundary=xyz"),
    ],
)
def test_multipart_without_a_file_is_400(client_for, content, content_type):
    response = client_for(File()).post("/", content=content, headers={"content-type": content_type})
    assert response.status_code == 400


def test_file_like_output():
    assert File().to_response(io.BytesIO(b"abc")).body == b"abc"
    with pytest.raises(BadOutput):
        File().to_response(3)


def test_openapi():
    body = File(mime_type="image/png").openapi_request_body()
    assert body["image/png"]["schema"] == {"type": "string", "format": "binary"}
    assert "multipart/form-data" in body
    binary = {"schema": {"type": "string", "format": "binary"}}
    assert File().openapi_responses() == {"application/octet-stream": binary}


def test_openapi_documents_any_type_without_a_mime_type():
    assert list(File().openapi_request_body()) == ["application/octet-stream", "*/*", "multipart/form-data"]
    assert list(File(mime_type="application/pdf").openapi_request_body()) == ["application/pdf", "multipart/form-data"]


def test_from_sample_takes_the_mime_type_from_the_name(tmp_path, client_for):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4 sample")
    desc = File.from_sample(path)
    assert desc.mime_type == "application/pdf"
    assert desc.sample == b"%PDF-1.4 sample"
    client = client_for(desc)
    assert client.post("/", content=b"%PDF", headers={"content-type": "application/pdf"}).status_code == 200
    assert client.post("/", content=b"x", headers={"content-type": "image/png"}).status_code == 415
    assert File.from_sample(io.BytesIO(b"abc")).sample == b"abc"
    assert File.from_sample(str(path), mime_type="application/octet-stream").mime_type == "application/octet-stream"
