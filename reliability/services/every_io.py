"""Every input descriptor tiffin has, one API each, for ``reliability.fuzz`` to send hostile bodies to.

    tiffin serve reliability/services/every_io.py:svc --config x.yaml

The APIs answer small summaries of what they decoded, so that a body that decodes answers 200
and every failure is the descriptor's (or the runner's, for ``iris``), not the summary's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import PIL.Image
import pydantic

import runners
from app import Service
from app.io import JSON, File, Image, Multipart, NumpyNdarray, PandasDataFrame, PandasSeries, Text
from app.io.annotations import JSONBody, TypedJSON, json_body_model

iris_clf_runner = runners.sklearn.get("iris_clf:latest").to_runner()

svc = Service("fuzz_every_io", runners=[iris_clf_runner])

COLUMNS = ["sepal_len", "sepal_width", "petal_len", "petal_width"]


class Flower(pydantic.BaseModel):
    name: str
    petals: list[float] = pydantic.Field(max_length=64)
    weight: float | None = None
    tags: dict[str, int] = {}


def _array(x: np.ndarray) -> dict[str, Any]:
    return {"shape": list(x.shape), "dtype": x.dtype.str}


@svc.api(input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True), output=NumpyNdarray())
async def iris(x: np.ndarray) -> np.ndarray:
    """The default service's API, through the same runner."""
    result: np.ndarray = await iris_clf_runner.predict.async_run(x)
    return result


@svc.api(input=NumpyNdarray(), output=JSON())
def ndarray_any(x: np.ndarray) -> dict[str, Any]:
    return _array(x)


@svc.api(input=NumpyNdarray(dtype="int16", shape=(2, -1), enforce_dtype=True), output=JSON())
def ndarray_int(x: np.ndarray) -> dict[str, Any]:
    return _array(x)


@svc.api(input=JSON(pydantic_model=Flower), output=JSON())
def json_model(flower: Flower) -> dict[str, Any]:
    return {"name": flower.name, "petals": len(flower.petals)}


@svc.api(input=JSON(), output=JSON())
def json_any(value: Any) -> str:
    return type(value).__name__


@svc.api(input=TypedJSON(dict[str, list[float]]), output=JSON())
def typed(value: dict[str, list[float]]) -> int:
    return len(value)


def _fields(x: np.ndarray, frame: pd.DataFrame, scale: float = 1.0, label: str = "") -> dict[str, Any]:
    return {"x": _array(x), "rows": len(frame), "scale": scale, "label": label[:16]}


svc.api(input=JSONBody(json_body_model(_fields)), output=JSON(), name="fields")(_fields)


def _image_fields(img: PIL.Image.Image, scale: float = 1.0) -> dict[str, Any]:
    return {"size": list(img.size), "scale": scale}


svc.api(input=JSONBody(json_body_model(_image_fields)), output=JSON(), name="image_fields")(_image_fields)


@svc.api(input=Text(), output=JSON())
def text(value: str) -> int:
    return len(value)


@svc.api(input=PandasDataFrame(columns=COLUMNS, dtype="float64"), output=JSON())
def frame(df: pd.DataFrame) -> list[int]:
    return list(df.shape)


@svc.api(input=PandasDataFrame(orient="split"), output=JSON())
def frame_any(df: pd.DataFrame) -> list[int]:
    return list(df.shape)


@svc.api(input=PandasSeries(dtype="float64"), output=JSON())
def series(s: pd.Series) -> int:
    return len(s)


@svc.api(input=Image(pilmode="RGB", max_pixels=4_000_000), output=JSON())
def image(img: PIL.Image.Image) -> list[int]:
    return list(img.size)


@svc.api(input=File(), output=JSON())
def file(data: bytes) -> int:
    return len(data)


@svc.api(input=File(mime_type="image/png"), output=JSON())
def file_png(data: bytes) -> int:
    return len(data)


@svc.api(
    input=Multipart(arr=NumpyNdarray(dtype="float32"), meta=JSON(pydantic_model=Flower), img=Image(), note=Text()),
    output=JSON(),
)
def multipart(arr: np.ndarray, meta: Flower, img: PIL.Image.Image, note: str) -> dict[str, Any]:
    return {"arr": _array(arr), "meta": meta.name, "img": list(img.size), "note": len(note)}
