"""The IO descriptors through real ``tiffin serve`` processes, with real files and a real HTTP client."""

from __future__ import annotations

import concurrent.futures
import io
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.datastructures import UploadFile

from tests.app.io.test_io_image import png_header_only
from tests.app.io.test_io_multipart import parse_form
from tests.procs import Proc, free_port_block, tiffin


def serve(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Proc, str]:
    port = free_port_block(3)
    argv = tiffin("serve", *args, "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
    proc = Proc(argv, env={"TIFFIN_HOME": str(home), **(env or {})})
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("io-files")
    pixels = np.zeros((10, 10, 3), dtype=np.uint8)
    pixels[..., 0] = np.arange(10, dtype=np.uint8) * 25
    pixels[..., 2] = 200
    paths = {"png": root / "test.png", "bmp": root / "test.bmp", "parquet": root / "frame.parquet"}
    PIL.Image.fromarray(pixels).save(paths["png"])
    PIL.Image.fromarray(pixels).save(paths["bmp"])
    pq.write_table(pa.table({"col1": pa.array([101, 7], pa.int64())}), paths["parquet"])
    return paths


@pytest.fixture(scope="module")
def python_service(tmp_path_factory: pytest.TempPathFactory):
    proc, url = serve(
        tmp_path_factory.mktemp("home"), "tests/app/services/io_service.py:svc", env={"TIFFIN_MAX_REQUEST_SIZE": "2MiB"}
    )
    try:
        proc.wait_http(url + "/readyz", timeout=60)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def yaml_service(tmp_path_factory: pytest.TempPathFactory):
    proc, url = serve(tmp_path_factory.mktemp("home"), "--config", "tests/app/services/io.yaml")
    try:
        proc.wait_http(url + "/readyz", timeout=60)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        proc.stop()


def test_png_and_bmp_files(python_service: httpx.Client, files: dict[str, Path]) -> None:
    expected = np.array(PIL.Image.open(files["png"]))
    for kind, mime in (("png", "image/png"), ("bmp", "image/bmp")):
        response = python_service.post("/echo_image", content=files[kind].read_bytes(), headers={"content-type": mime})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/bmp"
        np.testing.assert_array_equal(np.array(PIL.Image.open(io.BytesIO(response.content))), expected)


def test_multipart_form_sent_by_httpx(python_service: httpx.Client, files: dict[str, Path]) -> None:
    with files["png"].open("rb") as first, files["bmp"].open("rb") as second:
        form = {"original": ("test.png", first, "image/png"), "compared": ("test.bmp", second, "image/bmp")}
        response = python_service.post("/predict_multi_images", files=form)
    assert response.status_code == 200, response.text
    parts = parse_form(response)
    assert list(parts) == ["img1", "img2"]
    for part in parts.values():
        assert isinstance(part, UploadFile)
        assert np.array(PIL.Image.open(part.file)).shape == (10, 10, 3)
    with files["png"].open("rb") as first, files["bmp"].open("rb") as second:
        form = {"compared": ("c.bmp", second, "image/bmp"), "original": ("o.png", first, "image/png")}
        assert python_service.post("/predict_different_args", files=form).status_code == 200


def test_parquet_file_written_by_pyarrow(python_service: httpx.Client, files: dict[str, Path]) -> None:
    body = files["parquet"].read_bytes()
    for content_type in ("application/octet-stream", "application/vnd.apache.parquet"):
        response = python_service.post("/predict_dataframe", content=body, headers={"content-type": content_type})
        assert response.status_code == 200, response.text
        assert response.content == b'[{"col1":202},{"col1":14}]'
    headers = {"content-type": "application/octet-stream", "accept": "application/vnd.apache.parquet"}
    response = python_service.post("/predict_dataframe", content=body, headers=headers)
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(pa.BufferReader(response.content)).column("col1").to_pylist() == [202, 14]
    csv = pd.DataFrame([[101]], columns=["col1"]).to_csv()
    response = python_service.post("/predict_dataframe", content=csv, headers={"content-type": "text/csv"})
    assert response.content == b'[{"col1":202}]'


def test_outputs_hold_their_declaration(python_service: httpx.Client) -> None:
    json = {"content-type": "application/json"}
    response = python_service.post("/predict_ndarray_enforce_dtype", content=b"[[2,1],[4,3]]", headers=json)
    assert response.content == b'[["4", "2"], ["8", "6"]]'
    response = python_service.post("/wrong_shape", json=[1, 2, 3])
    assert response.status_code == 500
    assert "'wrong_shape'" in response.json()["error"]


@pytest.mark.parametrize("content_type", ["application/json", "application/text", None])
def test_text_takes_any_content_type(python_service: httpx.Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = python_service.post("/echo_text", content=b"input_string", headers=headers)
    assert response.status_code == 200
    assert response.text == "input_string"


def bad_requests(files: dict[str, Path]) -> list[tuple[str, dict, int]]:
    png = files["png"].read_bytes()
    wrong_part = {"original": ("o.png", png, "image/png"), "other": ("x.png", png, "image/png")}
    text_part = {"original": ("o.png", png, "image/png"), "compared": ("c.txt", b"hi", "text/plain")}
    octet = {"content-type": "application/octet-stream"}
    return [
        ("/echo_image", {"content": png[: len(png) // 2], "headers": {"content-type": "image/png"}}, 400),  # truncated
        ("/echo_image", {"content": png, "headers": {"content-type": "application/json"}}, 400),  # wrong mime type
        ("/echo_image", {"content": png, "headers": {"content-type": "application/pdf"}}, 400),
        ("/echo_image", {"content": png_header_only(40_000, 40_000), "headers": {"content-type": "image/png"}}, 413),
        ("/echo_image", {"content": b"\0" * (3 * 1024 * 1024), "headers": {"content-type": "image/png"}}, 413),
        ("/predict_multi_images", {"files": wrong_part}, 400),
        ("/predict_multi_images", {"files": text_part}, 400),
        ("/predict_multi_images", {"json": {"original": 1}}, 415),
        ("/predict_dataframe", {"content": b"PAR1 not really PAR1", "headers": octet}, 400),
    ]


def test_bad_input_is_4xx_and_nothing_is_lost(python_service: httpx.Client, files: dict[str, Path]) -> None:
    for path, kwargs, status in bad_requests(files):
        response = python_service.post(path, **kwargs)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]
    png = files["png"].read_bytes()

    def good() -> int:
        return python_service.post("/echo_image", content=png, headers={"content-type": "image/png"}).status_code

    def bad(index: int) -> int:
        path, kwargs, _ = bad_requests(files)[index % 9]
        return python_service.post(path, **kwargs).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        goods = [pool.submit(good) for _ in range(40)]
        bads = [pool.submit(bad, i) for i in range(40)]
        assert [f.result() for f in goods] == [200] * 40
        assert all(400 <= f.result() < 500 for f in bads)
    assert python_service.get("/readyz").status_code == 200


def test_yaml_image_api_reaches_the_runner_sidecar(yaml_service: httpx.Client, files: dict[str, Path]) -> None:
    response = yaml_service.post("/invert", content=files["png"].read_bytes(), headers={"content-type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    inverted = np.array(PIL.Image.open(io.BytesIO(response.content)))
    np.testing.assert_array_equal(inverted, 255 - np.array(PIL.Image.open(files["png"])))
    with files["bmp"].open("rb") as bmp:  # allowed_mime_types: png and jpeg only
        assert yaml_service.post("/invert", files={"image": ("t.bmp", bmp, "image/bmp")}).status_code == 400


def test_yaml_parquet_answer_and_series(yaml_service: httpx.Client, files: dict[str, Path]) -> None:
    body = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}).to_parquet()
    response = yaml_service.post("/double", content=body, headers={"content-type": "application/vnd.apache.parquet"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pd.read_parquet(io.BytesIO(response.content))
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"a": [2, 4], "b": [1.0, 3.0]}))
    assert yaml_service.post("/cumsum", json=[1, 2, 3]).json() == [1, 3, 6]
