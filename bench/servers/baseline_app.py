"""The baseline: what a user writes by hand to serve the model with FastAPI.

One model per worker process, loaded at start-up; ``POST /classify`` parses the JSON rows into
a numpy array, predicts in-process and answers a JSON list. Run under gunicorn with uvicorn
workers, like tiffin's API server. ``BENCH_MODEL`` names the stored model [iris_clf].
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request, Response

from bench.models import load_model

MODEL_NAME = os.environ.get("BENCH_MODEL", "iris_clf")
JSON = "application/json"
model: Any = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global model
    model = load_model(MODEL_NAME)
    yield


app = FastAPI(lifespan=lifespan)


def error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type=JSON)


@app.post("/classify")
async def classify(request: Request) -> Response:
    try:
        x = np.asarray(orjson.loads(await request.body()), dtype=np.float64)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return error(400, "body must be a JSON list of rows of 4 numbers")
    if x.ndim != 2 or x.shape[1] != 4:
        return error(400, f"expected shape (-1, 4), got {x.shape}")
    return Response(orjson.dumps(model.predict(x).tolist()), media_type=JSON)


@app.get("/readyz")
async def readyz() -> Response:
    return Response(b"ok", media_type="text/plain")
