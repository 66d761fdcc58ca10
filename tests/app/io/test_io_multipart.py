from __future__ import annotations

import asyncio
import io

import numpy as np
import PIL.Image
import pytest
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.testclient import TestClient

from app import Service
from app.config.schema import TiffinConfig
from app.io import JSON, File, Image, Multipart, NumpyNdarray, PandasDataFrame, Text
from app.server.http_errors import BadOutput


def bmp(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (10, 10), color).save(buffer, format="BMP")
    return buffer.getvalue()


def parse_form(response) -> dict[str, str | UploadFile]:
    """The multipart answer read back by Starlette's own parser, as a client would."""

    async def stream():
        yield response.content

    parser = MultiPartParser(Headers(raw=[(b"content-type", response.headers["content-type"].encode())]), stream())
    parts: dict[str, str | UploadFile] = {}
    for name, value in asyncio.run(parser.parse()).multi_items():
        if isinstance(value, UploadFile):  # kept in memory, its spooled file closed
            with value.file:
                value = UploadFile(io.BytesIO(value.file.read()), filename=value.filename, headers=value.headers)
        parts[name] = value
    return parts


def image_service() -> Service:
    """BentoML's e2e image APIs: two images in, two images out, arguments in either order."""
    svc = Service("images")

    @svc.api(input=Multipart(original=Image(), compared=Image()), output=Multipart(img1=Image(), img2=Image()))
    async def predict_multi_images(original, compared):
        average = (np.array(original).astype(np.uint16) + np.array(compared)) // 2
        image = PIL.Image.fromarray(average.astype(np.uint8))
        return {"img1": image, "img2": image}

    @svc.api(input=Multipart(original=Image(), compared=Image()), output=Multipart(img1=Image(), img2=Image()))
    def predict_different_args(compared, original):
        return {"img1": original, "img2": compared}

    @svc.api(input=Multipart(arr=NumpyNdarray(dtype="float32"), meta=JSON(), note=Text()), output=JSON())
    def mixed(arr, meta, note):
        return {"sum": float(arr.sum()), "dtype": str(arr.dtype), "meta": meta, "note": note}

    @svc.api(input=Text(), output=Multipart(text=Text(), table=PandasDataFrame(), raw=File()))
    def bad_output(kind: str):
        parts = {"text": "t", "table": [{"a": 1}], "raw": b"x"}
        if kind == "missing":
            del parts["raw"]
        if kind == "extra":
            parts["more"] = 1
        if kind == "wrong":
            parts["raw"] = 3
        return parts

    return svc


@pytest.fixture
def client():
    with TestClient(image_service().to_asgi()) as c:
        yield c


def image_form():
    # As aiohttp.FormData.add_field(name, bytes, content_type=...) sends it: the filename is the name.
    return [
        ("original", ("original", bmp((200, 0, 0)), "image/bmp")),
        ("compared", ("compared", bmp((0, 0, 100)), "image/bmp")),
    ]


def test_two_images_in_two_images_out(client):
    response = client.post("/predict_multi_images", files=image_form())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("multipart/form-data; boundary=")
    form = parse_form(response)
    assert list(form) == ["img1", "img2"]
    for part in form.values():
        assert isinstance(part, UploadFile)
        assert part.content_type == "image/jpeg"
        assert np.array(PIL.Image.open(part.file)).shape == (10, 10, 3)


def test_parts_are_keyword_arguments_whatever_the_parameter_order(client):
    response = client.post("/predict_different_args", files=image_form())
    assert response.status_code == 200
    form = parse_form(response)
    red = np.array(PIL.Image.open(form["img1"].file))  # img1 is `original`, the red one
    assert red[..., 0].mean() > 150 and red[..., 2].mean() < 50


def test_plain_fields_and_files_are_decoded_by_their_descriptors(client):
    files = [("meta", ("meta.json", b'{"source": "test"}', "application/json"))]
    response = client.post("/mixed", data={"arr": "[1, 2, 3.5]", "note": "héllo"}, files=files)
    assert response.status_code == 200, response.text
    assert response.json() == {"sum": 6.5, "dtype": "float32", "meta": {"source": "test"}, "note": "héllo"}


def test_missing_part_is_400_naming_it(client):
    response = client.post("/predict_multi_images", files=image_form()[:1])
    assert response.status_code == 400
    assert "'compared'" in response.json()["error"]
    assert response.json()["detail"] == {
        "missing": ["compared"],
        "expected": ["original", "compared"],
        "received": ["original"],
    }


def test_wrongly_named_part_is_400(client):
    files = [image_form()[0], ("other", ("other", bmp((0, 0, 0)), "image/bmp"))]
    response = client.post("/predict_multi_images", files=files)
    assert response.status_code == 400
    assert response.json()["detail"]["received"] == ["original", "other"]


def test_repeated_part_is_400(client):
    response = client.post("/predict_multi_images", files=[*image_form(), image_form()[0]])
    assert response.status_code == 400
    assert response.json()["detail"] == {"repeated": ["original"]}


def test_bad_part_is_400_naming_the_part_and_nothing_is_lost(client):
    files = [image_form()[0], ("compared", ("compared.txt", b"not an image", "text/plain"))]
    response = client.post("/predict_multi_images", files=files)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Part 'compared': ")
    files = [image_form()[0], ("compared", ("compared.bmp", bmp((1, 2, 3))[:60], "image/bmp"))]
    response = client.post("/predict_multi_images", files=files)
    assert response.status_code == 400
    assert "truncated" in response.json()["error"]
    meta = [("meta", ("meta.json", b"{}", "application/json"))]
    response = client.post("/mixed", data={"arr": "[1, 2", "note": ""}, files=meta)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Part 'arr': ")
    assert client.post("/predict_multi_images", files=image_form()).status_code == 200


def test_not_multipart_is_415_and_malformed_multipart_is_400(client):
    assert client.post("/predict_multi_images", json={"original": 1}).status_code == 415
    assert client.post("/predict_multi_images", content=b"x").status_code == 415
    response = client.post(
        "/predict_multi_images", content=b"--b\r\nbroken", headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 400
    response = client.post("/predict_multi_images", content=b"", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 400  # no boundary


def test_oversized_form_is_413():
    config = TiffinConfig.model_validate({"server": {"max_request_size": "2KiB"}})
    with TestClient(image_service().to_asgi(config)) as client:
        files = [("original", ("o", b"x" * 4096, "image/bmp")), ("compared", ("c", b"x", "image/bmp"))]
        assert client.post("/predict_multi_images", files=files).status_code == 413
        assert client.post("/predict_multi_images", files=image_form()).status_code == 200


def test_decompression_bomb_in_a_part_is_413(client):
    from tests.app.io.test_io_image import png_header_only

    files = [image_form()[0], ("compared", ("bomb.png", png_header_only(40_000, 40_000), "image/png"))]
    response = client.post("/predict_multi_images", files=files)
    assert response.status_code == 413
    assert response.json()["error"].startswith("Part 'compared': ")


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("missing", {"expected": ["text", "table", "raw"], "missing": ["raw"], "unexpected": []}),
        ("extra", {"expected": ["text", "table", "raw"], "missing": [], "unexpected": ["more"]}),
    ],
)
def test_output_must_hold_exactly_the_declared_parts(client, kind, detail):
    response = client.post("/bad_output", content=kind)
    assert response.status_code == 500
    assert "'bad_output'" in response.json()["error"]
    assert response.json()["detail"] == detail


def test_a_wrong_part_value_is_a_500_naming_api_and_part(client):
    response = client.post("/bad_output", content="wrong")
    assert response.status_code == 500
    assert "'bad_output'" in response.json()["error"] and "Part 'raw'" in response.json()["error"]
    ok = parse_form(client.post("/bad_output", content="ok"))
    assert ok["text"] == "t"  # text parts are plain fields, binary parts files
    assert ok["table"] == '[{"a":1}]'
    assert isinstance(ok["raw"], UploadFile)


def test_construction_checks():
    with pytest.raises(ValueError):
        Multipart()
    with pytest.raises(TypeError):
        Multipart(inner=Multipart(a=Text()))
    with pytest.raises(TypeError):
        Multipart(a="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Multipart(**{"not-an-identifier": Text()})
    with pytest.raises(BadOutput):
        Multipart(a=Text()).to_response(["a"])


def test_openapi_describes_each_part():
    desc = Multipart(image=Image(allowed_mime_types=["image/png"]), arr=NumpyNdarray(dtype="int64"), note=Text())
    media = desc.openapi_request_body()["multipart/form-data"]
    assert media["schema"] == {
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "binary"},
            "arr": NumpyNdarray(dtype="int64").json_schema(),
            "note": {"type": "string"},
        },
        "required": ["image", "arr", "note"],
    }
    assert media["encoding"]["image"] == {"contentType": "image/png, application/octet-stream"}
    assert media["encoding"]["arr"] == {"contentType": "application/json, application/x-npy"}
    assert "multipart/form-data" in desc.openapi_responses()


def test_from_sample_fills_each_part():
    desc = Multipart.from_sample(
        {"arr": np.array([[1.0, 2.0]]), "note": "hi"}, arr=NumpyNdarray(), note=Text(), pinned=NumpyNdarray("int8")
    )
    arr = desc.parts["arr"]
    assert isinstance(arr, NumpyNdarray) and arr.dtype == np.float64 and arr.shape == (1, 2)
    assert desc.openapi_request_body()["multipart/form-data"]["example"] == {"arr": [[1.0, 2.0]], "note": "hi"}
    with pytest.raises(ValueError):
        Multipart.from_sample({"nope": 1}, a=Text())
    pinned = Multipart.from_sample({"x": np.array([1, 2])}, x=NumpyNdarray(dtype="int8")).parts["x"]
    assert isinstance(pinned, NumpyNdarray) and pinned.dtype == np.int8 and pinned.shape == (2,)
