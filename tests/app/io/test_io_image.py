from __future__ import annotations

import io
import zlib

import numpy as np
import PIL.Image
import pytest

from app.io import Image
from app.server.http_errors import BadOutput


def encode(image: PIL.Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(width: int = 10, height: int = 8) -> PIL.Image.Image:
    x = np.arange(width, dtype=np.uint8)[None, :, None].repeat(height, 0)
    y = np.arange(height, dtype=np.uint8)[:, None, None].repeat(width, 1)
    return PIL.Image.fromarray(np.concatenate([x * 20, y * 30, x + y], axis=2))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width × height, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("WEBP", "image/webp"), ("BMP", "image/bmp")])
def test_lossless_formats_decode_to_the_same_pixels(client_for, fmt, mime):
    original = gradient()
    options = {"lossless": True} if fmt == "WEBP" else {}
    client = client_for(Image(), handler=np.asarray, output=Image(mime_type="image/png"))
    response = client.post("/", content=encode(original, fmt, **options), headers={"content-type": mime})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    decoded = client.seen[0]
    assert isinstance(decoded, PIL.Image.Image)
    assert decoded.size == (10, 8)
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(original))
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(io.BytesIO(response.content))), np.asarray(original))


def test_jpeg_in_and_out(client_for):
    client = client_for(Image())  # answers image/jpeg, as BentoML's Image does by default
    response = client.post("/", content=encode(gradient(), "JPEG"), headers={"content-type": "image/jpeg"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert PIL.Image.open(io.BytesIO(response.content)).format == "JPEG"


def test_bmp_answer_as_in_bentoml_e2e(client_for):
    # BentoML's e2e service: input=Image(), output=Image(mime_type="image/bmp"), returns np.array(f).
    client = client_for(Image(), handler=np.array, output=Image(mime_type="image/bmp"))
    body = encode(gradient(), "BMP")
    response = client.post("/", content=body, headers={"content-type": "image/bmp"})
    assert response.headers["content-type"] == "image/bmp"
    np.testing.assert_array_almost_equal(np.array(PIL.Image.open(io.BytesIO(response.content))), np.array(gradient()))


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "image/*", "image/x-png"])
def test_format_is_found_from_the_bytes(client_for, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client_for(Image(mime_type="image/png")).post("/", content=encode(gradient(), "PNG"), headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("content_type", ["application/json", "application/pdf", "text/plain"])
def test_content_type_that_is_no_image_is_400(client_for, content_type):
    client = client_for(Image())
    response = client.post("/", content=encode(gradient(), "PNG"), headers={"content-type": content_type})
    assert response.status_code == 400  # as BentoML's Image answers
    assert response.json()["detail"]["content_type"] == content_type
    assert "image/png" in response.json()["detail"]["accepted"]


def test_allowed_mime_types_restrict_the_bytes_not_just_the_label(client_for):
    client = client_for(Image(allowed_mime_types=["image/png"]))
    jpeg = encode(gradient(), "JPEG")
    assert client.post("/", content=jpeg, headers={"content-type": "image/jpeg"}).status_code == 400
    response = client.post("/", content=jpeg, headers={"content-type": "image/png"})  # a lie: JPEG bytes
    assert response.status_code == 400
    assert "image/png" in response.json()["error"]
    assert client.post("/", content=encode(gradient(), "PNG"), headers={"content-type": "image/png"}).status_code == 200


def test_truncated_image_is_400_and_the_next_request_is_served(client_for):
    client = client_for(Image())
    whole = encode(gradient(64, 64), "PNG")
    response = client.post("/", content=whole[: len(whole) // 2], headers={"content-type": "image/png"})
    assert response.status_code == 400
    assert "truncated" in response.json()["error"]
    assert client.post("/", content=whole, headers={"content-type": "image/png"}).status_code == 200


@pytest.mark.parametrize("body", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_garbage_is_400(client_for, body):
    response = client_for(Image()).post("/", content=body, headers={"content-type": "image/png"})
    assert response.status_code == 400
    assert response.json()["error"]


def test_decompression_bomb_is_413_before_decoding(client_for):
    # 30000 × 30000 declared in 100 bytes: 900 million pixels, 2.7 GB as RGB if it were decoded.
    bomb = png_header_only(30_000, 30_000)
    assert len(bomb) < 200
    client = client_for(Image())
    response = client.post("/", content=bomb, headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert response.json()["error"]
    assert client.post("/", content=encode(gradient(), "PNG"), headers={"content-type": "image/png"}).status_code == 200


def test_max_pixels_is_checked_from_the_header(client_for):
    client = client_for(Image(max_pixels=10 * 10))
    response = client.post("/", content=png_header_only(11, 10), headers={"content-type": "image/png"})
    assert response.status_code == 413
    assert response.json()["detail"] == {"width": 11, "height": 10, "max_pixels": 100}
    response = client.post("/", content=encode(gradient(10, 10), "PNG"), headers={"content-type": "image/png"})
    assert response.status_code == 200


def test_pilmode_converts_input_and_output(client_for):
    client = client_for(Image(pilmode="L"), output=Image(mime_type="image/png", pilmode="RGBA"))
    response = client.post("/", content=encode(gradient(), "PNG"), headers={"content-type": "image/png"})
    assert client.seen[0].mode == "L"
    assert PIL.Image.open(io.BytesIO(response.content)).mode == "RGBA"


def test_without_pilmode_the_decoded_mode_is_kept(client_for):
    client = client_for(Image())
    client.post("/", content=encode(gradient().convert("L"), "PNG"), headers={"content-type": "image/png"})
    assert np.asarray(client.seen[0]).shape == (8, 10)


def test_multipart_upload_takes_the_first_image(client_for):
    client = client_for(Image(mime_type="image/png"))
    files = [
        ("notes", ("notes.txt", b"hello", "text/plain")),
        ("photo", ("photo.png", encode(gradient(), "PNG"), "image/png")),
    ]
    response = client.post("/", files=files)
    assert response.status_code == 200
    assert client.seen[0].size == (10, 8)
    response = client.post("/", files=[("notes", ("notes.txt", b"hello", "text/plain"))])
    assert response.status_code == 400
    assert client.post("/", data={"field": "value"}).status_code == 400  # a urlencoded form is no image


def test_returned_arrays_and_images_are_encoded_other_values_are_the_apis_fault():
    desc = Image(mime_type="image/png")
    array = np.zeros((4, 6, 3), dtype=np.uint8)
    assert PIL.Image.open(io.BytesIO(desc.to_response(array).body)).size == (6, 4)
    assert PIL.Image.open(io.BytesIO(desc.to_response(np.zeros((4, 6), dtype=np.uint8)).body)).mode == "L"
    # RGBA cannot be JPEG: it is converted rather than refused.
    assert PIL.Image.open(io.BytesIO(Image().to_response(PIL.Image.new("RGBA", (3, 3))).body)).mode == "RGB"
    with pytest.raises(BadOutput, match="PIL image or a numpy array"):
        desc.to_response("cat.png")
    with pytest.raises(BadOutput, match="is not an image"):
        desc.to_response(np.zeros((2, 2, 2, 2), dtype=np.uint8))


def test_construction_checks():
    with pytest.raises(ValueError, match="pilmode"):
        Image(pilmode="RGBZ")
    with pytest.raises(ValueError, match="cannot read"):
        Image(allowed_mime_types=["application/pdf"])
    with pytest.raises(ValueError, match="cannot write"):
        Image(mime_type="image/svg+xml")
    assert Image(allowed_mime_types=["image/jpg"]).allowed_mime_types == ("image/jpeg",)


def test_from_sample_takes_the_format_of_the_sample(tmp_path):
    path = tmp_path / "sample.png"
    gradient().save(path)
    desc = Image.from_sample(str(path))
    assert desc.mime_type == "image/png"
    assert desc.sample.size == (10, 8)
    assert Image.from_sample(encode(gradient(), "WEBP")).mime_type == "image/webp"
    assert Image.from_sample(path, mime_type="image/jpeg").mime_type == "image/jpeg"
    assert Image.from_sample(np.zeros((2, 2, 3), dtype=np.uint8)).mime_type == "image/jpeg"
    with pytest.raises(ValueError):
        Image.from_sample(42)


def test_openapi_documents_what_it_takes_and_answers():
    desc = Image(mime_type="image/png", allowed_mime_types=["image/png", "image/jpeg"])
    body = desc.openapi_request_body()
    assert list(body) == ["image/png", "image/jpeg", "application/octet-stream", "multipart/form-data"]
    assert body["image/png"]["schema"] == {"type": "string", "format": "binary"}
    assert desc.openapi_responses() == {"image/png": {"schema": {"type": "string", "format": "binary"}}}
