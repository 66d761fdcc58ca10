"""A service for the client's process tests: a slow API that says when it started, and the rest.

``CLIENT_TEST_DIR`` is where ``sleep`` writes ``started-<n>`` as it begins.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app import Service
from app.io import JSON, File, NumpyNdarray, PandasDataFrame, Text

svc = Service("client_demo")


@svc.api(input=JSON(), output=JSON())
async def sleep(body: dict[str, Any]) -> dict[str, Any]:
    Path(os.environ["CLIENT_TEST_DIR"], f"started-{body.get('n', 0)}").touch()
    await asyncio.sleep(float(body["seconds"]))
    return body


@svc.api(input=NumpyNdarray(dtype="float32"), output=NumpyNdarray())
def scale(x: np.ndarray) -> np.ndarray:
    return x * np.float32(0.5)


@svc.api(input=Text(), output=Text())
def shout(text: str) -> str:
    return text.upper()


@svc.api(input=PandasDataFrame(orient="columns"), output=PandasDataFrame(orient="columns"))
def double_col1(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(col1=df["col1"] * 2)


@svc.api(input=File(mime_type="image/png"), output=File(mime_type="image/png"))
def same_png(data: bytes) -> bytes:
    return data
