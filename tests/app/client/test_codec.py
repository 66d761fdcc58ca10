"""The client's encodings, chosen from the media types an API documents, and its decodings."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app.client.codec import PARQUET_TYPES, accept_header, decode, encode
from app.client.errors import UndecodableAnswer
from app.client.spec import Endpoint

NUMPY = ("application/json", "application/x-npy")
ARRAYS = Endpoint("classify", "/classify", NUMPY, NUMPY)
TABLE_IN = ("application/json", "text/csv", PARQUET_TYPES[0])
TABLES = Endpoint("table", "/table", TABLE_IN, ("application/json", "text/csv"))
JSON_ONLY = Endpoint("echo", "/echo", ("application/json",), ("application/json",))
TEXT = Endpoint("shout", "/shout", ("text/plain",), ("text/plain",))
FILES = Endpoint("file", "/file", ("*/*", "multipart/form-data"), ("application/octet-stream",))
IMAGES = Endpoint("img", "/img", ("image/jpeg", "image/png"), ("image/png",))
FORM = Endpoint(
    "form",
    "/form",
    ("multipart/form-data",),
    ("multipart/form-data",),
    parts={"picture": ("image/png",), "meta": ("application/json",), "note": ("text/plain",)},
)


def test_arrays_go_as_npy_keeping_their_dtype_and_objects_as_json() -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    body, media_type = encode(ARRAYS, (array,), {})
    assert media_type == "application/x-npy"
    back = np.load(io.BytesIO(body), allow_pickle=False)
    assert back.dtype == np.uint8 and (back == array).all()
    assert encode(JSON_ONLY, (array,), {}) == (b"[[0,1,2],[3,4,5]]", "application/json")
    assert encode(ARRAYS, (np.array([{"a": 1}], dtype=object),), {})[1] == "application/json"


def test_tables_go_as_parquet_when_taken_else_json_records_or_csv() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    body, media_type = encode(TABLES, (frame,), {})
    assert media_type == PARQUET_TYPES[0]
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(body)), frame)
    assert encode(JSON_ONLY, (frame,), {}) == (b'[{"a":1,"b":"x"},{"a":2,"b":"y"}]', "application/json")
    csv_only = Endpoint("csv", "/csv", ("text/csv",), ())
    assert encode(csv_only, (frame,), {}) == (b"a,b\n1,x\n2,y\n", "text/csv")


def test_text_bytes_files_and_paths(tmp_path: Path) -> None:
    assert encode(TEXT, ("héllo",), {}) == ("héllo".encode(), "text/plain; charset=utf-8")
    assert encode(JSON_ONLY, ("hi",), {}) == (b'"hi"', "application/json")
    assert encode(FILES, (b"\x00\x01",), {}) == (b"\x00\x01", "application/octet-stream")
    assert encode(FILES, (io.BytesIO(b"raw"),), {}) == (b"raw", "application/octet-stream")
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert encode(FILES, (pdf,), {}) == (b"%PDF-1.4", "application/pdf")
    only_png = Endpoint("png", "/png", ("image/png", "multipart/form-data"), ())
    assert encode(only_png, (b"\x89PNG",), {}) == (b"\x89PNG", "image/png")


def test_images_go_as_the_image_type_the_api_names() -> None:
    image = Image.new("RGBA", (4, 3), (255, 0, 0, 128))
    body, media_type = encode(IMAGES, (image,), {})
    assert media_type == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (4, 3)
    any_image = Endpoint("any", "/any", ("image/*",), ())
    body, media_type = encode(any_image, (np.zeros((2, 2, 3), dtype=np.uint8),), {})
    assert media_type == "image/png" and Image.open(io.BytesIO(body)).mode == "RGB"


def test_keyword_arguments_go_as_multipart_parts_or_json_fields() -> None:
    picture = Image.new("RGB", (2, 2))
    body, media_type = encode(FORM, (), {"picture": picture, "meta": {"k": 1}, "note": "hi"})
    assert media_type.startswith("multipart/form-data; boundary=")
    parts = decode(FORM, media_type, body)
    assert parts["meta"] == {"k": 1} and parts["note"] == "hi"
    assert isinstance(parts["picture"], Image.Image) and parts["picture"].size == (2, 2)
    assert b'name="picture"; filename="picture"' in body and b'name="note"\r\n' in body
    with pytest.raises(TypeError, match="takes parts picture, meta, note; not other"):
        encode(FORM, (), {"other": 1})
    assert encode(JSON_ONLY, (), {"a": 1, "b": [2]}) == (b'{"a":1,"b":[2]}', "application/json")
    assert encode(JSON_ONLY, (), {}) == (b"{}", "application/json")
    with pytest.raises(TypeError, match="not both"):
        encode(JSON_ONLY, (1,), {"a": 1})


def test_answers_decode_by_content_type_and_what_the_api_answers() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array(["a", "bc"]), allow_pickle=False)
    strings = decode(ARRAYS, "application/x-npy", buffer.getvalue())
    assert strings.dtype.kind == "U" and strings.tolist() == ["a", "bc"]
    as_json = decode(ARRAYS, "application/json", b"[[1, 2], [3, 4]]")
    assert isinstance(as_json, np.ndarray) and as_json.shape == (2, 2)
    assert decode(JSON_ONLY, "application/json", b"[[1, 2]]") == [[1, 2]]
    records = decode(TABLES, "application/json", b'[{"col1": 202}]')
    pd.testing.assert_frame_equal(records, pd.DataFrame({"col1": [202]}))
    split = decode(TABLES, "application/json", b'{"columns": ["a"], "data": [[1], [2]]}')
    assert split["a"].tolist() == [1, 2]
    assert decode(TABLES, "text/csv; charset=utf-8", b"a,b\n1,x\n")["b"].tolist() == ["x"]
    assert decode(TEXT, "text/plain; charset=latin-1", "é".encode("latin-1")) == "é"
    assert decode(FILES, "application/pdf", b"%PDF") == b"%PDF"
    png = io.BytesIO()
    Image.new("L", (3, 3)).save(png, format="PNG")
    assert decode(IMAGES, "image/png", png.getvalue()).size == (3, 3)
    with pytest.raises(UndecodableAnswer):
        decode(JSON_ONLY, "application/json", b"{not json")


def test_multipart_answers_keep_binary_parts_intact() -> None:
    payload = b"\r\n--not-the-boundary\r\n\x00\xff\r\n"
    body = (
        b"--b0\r\nContent-Disposition: form-data; name=\"blob\"; filename=\"x.bin\"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n"
        b"--b0\r\nContent-Disposition: form-data; name=\"plain\"\r\n\r\nvalue\r\n--b0--\r\n"
    )
    assert decode(FORM, "multipart/form-data; boundary=b0", body) == {"blob": payload, "plain": "value"}


def test_accept_prefers_exact_encodings() -> None:
    assert accept_header(ARRAYS) == "application/x-npy, application/json;q=0.9"
    assert accept_header(TABLES) == "application/json, text/csv;q=0.9"
    with_parquet = Endpoint("t", "/t", (), ("application/json", PARQUET_TYPES[0]))
    assert accept_header(with_parquet) == f"{PARQUET_TYPES[0]}, application/json;q=0.9"
    assert accept_header(Endpoint("n", "/n", (), ())) is None
