"""A service of JSON and pydantic APIs, class-style and 1.0-style, beside a mounted FastAPI app.

The examples hold one pydantic API each; this module gathers the kinds of typed input and output
the SDK derives documents from (scalars, lists, optional fields, nested models, enums, numpy and
text answers), with no model to load, so schemathesis reaches each in seconds:

    tiffin serve reliability/schema_service.py:Typed
"""

from __future__ import annotations

import enum
from typing import Annotated

import numpy as np
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from app import api, mount_asgi_app, service


class Colour(enum.StrEnum):
    red = "red"
    green = "green"


class Point(BaseModel):
    # Bounded, so a centroid cannot overflow to inf: pydantic writes inf as null, which the
    # float's documented schema ("number") refuses (schemathesis found it at 1.8e308).
    x: float = Field(ge=-1e12, le=1e12)
    y: float = Field(ge=-1e12, le=1e12)


class Shape(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    points: list[Point] = Field(max_length=50)
    colour: Colour = Colour.red
    tags: dict[str, int] = Field(default_factory=dict, max_length=10)
    note: str | None = None


class Summary(BaseModel):
    name: str
    count: int
    centroid: Point | None


class Box(BaseModel):
    # Strict, as examples/fastapi_service.py's model: FastAPI validates in pydantic's lax mode
    # otherwise (false for 0), which is the mounted app's own choice, not tiffin's.
    model_config = ConfigDict(strict=True)

    name: str = Field(min_length=1, max_length=40)
    sizes: dict[str, int] = Field(default_factory=dict, max_length=10)


mounted = FastAPI()


@service
@mount_asgi_app(mounted, path="/extra")
class Typed:
    name = "typed"

    @api
    def add(self, a: int, b: int = 10) -> int:
        return a + b

    @api
    def shout(self, text: str = "hi", times: Annotated[int, Field(ge=1, le=5)] = 1) -> str:
        return " ".join([text.upper()] * times)

    @api
    def summarise(self, shape: Shape) -> Summary:
        if not shape.points:
            return Summary(name=shape.name, count=0, centroid=None)
        x = sum(p.x for p in shape.points) / len(shape.points)
        y = sum(p.y for p in shape.points) / len(shape.points)
        return Summary(name=shape.name, count=len(shape.points), centroid=Point(x=x, y=y))

    @api
    def scale(self, values: list[float], factor: float = 2.0) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * factor

    @api
    def describe(self, colour: Colour, labels: list[str] | None = None) -> dict[str, object]:
        return {"colour": colour.value, "labels": labels or []}

    @mounted.get("/echo/{word}")
    def echo(self, word: str, times: Annotated[int, Query(ge=1, le=3)] = 1) -> dict[str, str]:
        return {"word": word * times, "service": self.name}

    @mounted.post("/box")
    def box(self, box: Box) -> Summary:
        return Summary(name=box.name, count=sum(box.sizes.values()), centroid=None)
