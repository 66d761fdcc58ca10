"""``PandasSeries``: a Series from JSON (a list of values, or index → value), and back."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, as_output_error, read_body
from app.io.codec import loads
from app.io.dataframe import cast, lazy_pandas, shape_fits
from app.server.http_errors import BadInput, BadOutput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PandasSeries"]

SeriesOrient = Literal["records", "index", "split", "table"]
JSON = "application/json"


class PandasSeries(IODescriptor):
    """A ``pd.Series`` from ``application/json``.

    A list (``[1, 2, 3]``) is read as values, an object (``{"a": 1}``) as index → value, and
    ``{"index": [...], "data": [...], "name": ...}`` as pandas' split layout; ``orient`` is the
    layout of answers. ``dtype`` is cast to (losslessly with ``enforce_dtype``), ``shape``
    (``(-1,)`` for any length) is checked with ``enforce_shape``; a returned Series is held to
    the same rules (500 otherwise). ``from_sample(series)`` fixes the dtype and shape.
    """

    media_types = (JSON,)

    def __init__(
        self,
        orient: SeriesOrient = "records",
        dtype: Any = None,
        enforce_dtype: bool = False,
        shape: Sequence[int] | None = None,
        enforce_shape: bool = False,
    ) -> None:
        if orient not in get_args(SeriesOrient):
            raise ValueError(f"orient must be one of {', '.join(get_args(SeriesOrient))}, not {orient!r}")
        self.orient = orient
        self.dtype = None if isinstance(dtype, bool) else dtype
        self.enforce_dtype = enforce_dtype
        self.shape = tuple(int(n) for n in shape) if shape is not None else None
        self.enforce_shape = enforce_shape
        self._options_given()

    def _check_options(self) -> None:
        if self.enforce_dtype and self.dtype is None:
            raise ValueError("enforce_dtype needs dtype")
        if self.enforce_shape and self.shape is None:
            raise ValueError("enforce_shape needs shape")

    async def from_request(self, request: Request) -> pd.Series:
        self.check_media_type(request)
        return self.from_json_value(loads(await read_body(request)))

    def from_json_value(self, value: Any) -> pd.Series:
        return self._conform(_from_json(value, self.orient))

    def _conform(self, series: pd.Series) -> pd.Series:
        if self.dtype is not None:
            series = cast(series, self.dtype, lossless=self.enforce_dtype)
        if self.shape is not None and self.enforce_shape and not shape_fits(series.shape, self.shape):
            raise BadInput(
                f"The series has shape {list(series.shape)}, expected {list(self.shape)}.",
                detail={"expected_shape": list(self.shape), "got_shape": list(series.shape)},
            )
        return series

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        series = _as_series(value)
        with as_output_error():
            series = self._conform(series)
        return Response(self._json(series), media_type=JSON)

    def _json(self, series: pd.Series) -> str:
        try:
            return str(series.to_json(orient=self.orient, date_format="iso"))
        except (ValueError, TypeError, OverflowError) as exc:
            message = f"The Series cannot be written as JSON in orient {self.orient!r}."
            raise BadOutput(message, detail=str(exc)) from exc

    def _take_sample(self, sample: Any, given: set[str]) -> pd.Series:
        series = sample if isinstance(sample, lazy_pandas().Series) else _from_json(_plain(sample), self.orient)
        if "dtype" not in given:
            self.dtype = str(series.dtype)
        if "shape" not in given:
            self.shape = tuple(series.shape)
        return series

    def spec(self) -> dict[str, Any]:
        return {
            "type": "series",
            "orient": self.orient,
            "dtype": None if self.dtype is None else str(self.dtype),
            "enforce_dtype": self.enforce_dtype,
            "shape": None if self.shape is None else list(self.shape),
            "enforce_shape": self.enforce_shape,
        }

    def openapi_example(self) -> Any:
        return None if self.sample is None else orjson.loads(self._json(self.sample))

    def openapi_request_body(self) -> dict[str, Any]:
        return self._with_example({JSON: {"schema": self._json_schema()}}, JSON)

    def openapi_responses(self) -> dict[str, Any]:
        return self._with_example({JSON: {"schema": self._json_schema()}}, JSON)

    def _json_schema(self) -> dict[str, Any]:
        if self.orient == "index":
            return {"type": "object"}
        if self.orient in ("split", "table"):
            return {"type": "object", "properties": {"data": {"type": "array"}}}
        schema: dict[str, Any] = {"type": "array"}
        if self.shape is not None and self.shape[0] >= 0:
            schema["minItems"] = schema["maxItems"] = self.shape[0]
        return schema


def _from_json(value: Any, orient: str) -> pd.Series:
    pd = lazy_pandas()
    try:
        if isinstance(value, list):
            return pd.Series(value)
        if isinstance(value, Mapping):
            if orient == "table" and {"schema", "data"} <= set(value):
                return pd.read_json(io.StringIO(orjson.dumps(value).decode()), orient="table", typ="series")
            if {"data"} <= set(value) <= {"name", "index", "data"} and isinstance(value["data"], list):
                return pd.Series(value["data"], index=value.get("index"), name=value.get("name"))
            return pd.Series(dict(value))
    except Exception as exc:
        raise BadInput("The JSON cannot be read as a series.", detail=str(exc)) from exc
    raise BadInput("The JSON is not a series.", detail="Send a list of values or an object of index → value.")


def _plain(sample: Any) -> Any:
    if isinstance(sample, (str, bytes)):
        return orjson.loads(sample)
    tolist = getattr(sample, "tolist", None)
    return tolist() if callable(tolist) else sample


def _as_series(value: Any) -> pd.Series:
    pd = lazy_pandas()
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, pd.DataFrame) and value.shape[1] == 1:
        return value.iloc[:, 0]
    try:
        series = pd.Series(value)
    except Exception as exc:
        raise BadOutput(f"A {type(value).__name__} is not a series.", detail=str(exc)) from exc
    if series.ndim != 1:
        raise BadOutput(f"A {type(value).__name__} is not a series.")
    return series
