"""YAML APIs with the image, DataFrame and Series descriptors, served in-process."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import PIL.Image
import pytest
from starlette.testclient import TestClient

from app.config.assemble import build_service
from app.config.schema import ConfigError, load_config
from app.io import Image, PandasDataFrame, PandasSeries

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    service = build_service(load_config(REPO / "tests/app/services/io.yaml", env={}))
    for runner in service.runners:
        runner.init_local()
    with TestClient(service.to_asgi()) as c:
        yield c


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_descriptors_are_built_as_configured(client) -> None:
    doc = client.get("/docs.json").json()["paths"]
    assert list(doc["/invert"]["post"]["requestBody"]["content"])[:2] == ["image/png", "image/jpeg"]
    assert list(doc["/double"]["post"]["responses"]["200"]["content"])[0] == "application/vnd.apache.parquet"


def test_image_reaches_the_runner_as_pixels(client) -> None:
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., 0] = 10
    response = client.post("/invert", content=png(rgba), headers={"content-type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    result = np.asarray(PIL.Image.open(io.BytesIO(response.content)))
    assert result.shape == (4, 5, 3)  # pilmode RGB dropped the alpha before the runner saw it
    assert (result[..., 0] == 245).all() and (result[..., 1] == 255).all()


def test_dataframe_and_series(client) -> None:
    response = client.post("/double", json=[{"b": 0.5, "a": 1}])
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(response.content)), pd.DataFrame({"a": [2], "b": [1.0]}))
    assert client.post("/double", json=[{"a": 1.5, "b": 1}]).status_code == 400  # enforce_dtype
    assert client.post("/cumsum", json=[1, 2, 3]).json() == [1, 3, 6]


def test_descriptor_settings_that_fail_to_build_name_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    text = (REPO / "tests/app/services/io.yaml").read_text().replace("mime_type: image/png", "mime_type: image/svg+xml")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"apis\.0: .*cannot write 'image/svg\+xml'"):
        build_service(load_config(path, env={}))


def test_types_map_to_descriptors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    service = build_service(load_config(REPO / "tests/app/services/io.yaml", env={}))
    invert, double, cumsum = service.apis
    assert isinstance(invert.input, Image) and invert.input.max_pixels == 1_000_000
    assert isinstance(double.input, PandasDataFrame) and double.input.enforce_dtype
    assert isinstance(cumsum.output, PandasSeries)
