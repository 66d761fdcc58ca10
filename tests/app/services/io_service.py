"""BentoML 1.1's e2e IO APIs under our names, without a runner: images, multipart forms, tables, text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL.Image import Image as PILImage
from PIL.Image import fromarray

from app import Service
from app.io import Image, Multipart, NumpyNdarray, PandasDataFrame, Text

svc = Service("io_service")


@svc.api(input=Image(), output=Image(mime_type="image/bmp"))
async def echo_image(f: PILImage) -> np.ndarray:
    assert isinstance(f, PILImage)
    return np.array(f)


@svc.api(
    input=Multipart(original=Image(), compared=Image()),
    output=Multipart(img1=Image(), img2=Image()),
)
async def predict_multi_images(original: PILImage, compared: PILImage) -> dict[str, PILImage]:
    img = fromarray(((np.array(original).astype(np.uint16) + np.array(compared)) // 2).astype(np.uint8))
    return {"img1": img, "img2": img}


@svc.api(
    input=Multipart(original=Image(), compared=Image()),
    output=Multipart(img1=Image(), img2=Image()),
)
def predict_different_args(compared: PILImage, original: PILImage) -> dict[str, PILImage]:
    return {"img1": original, "img2": compared}


@svc.api(input=PandasDataFrame(dtype={"col1": "int64"}, orient="records"), output=PandasDataFrame())
async def predict_dataframe(df: pd.DataFrame) -> pd.DataFrame:
    assert df["col1"].dtype == "int64"
    out = pd.DataFrame()
    out["col1"] = df[["col1"]] * 2
    return out


@svc.api(input=NumpyNdarray(dtype="uint8", enforce_dtype=True), output=NumpyNdarray(dtype="str"))
def predict_ndarray_enforce_dtype(inp: np.ndarray) -> np.ndarray:
    assert inp.dtype == np.dtype("uint8")
    return inp * 2


@svc.api(input=NumpyNdarray(), output=NumpyNdarray(shape=(2, 2), enforce_shape=True))
def wrong_shape(inp: np.ndarray) -> np.ndarray:
    return inp


@svc.api(input=Text(), output=Text())
def echo_text(text: str) -> str:
    return text
