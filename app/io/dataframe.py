"""``PandasDataFrame``: a DataFrame from JSON, CSV or Parquet, and back in any of them."""

from __future__ import annotations

import functools
import importlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, get_args

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, as_output_error, negotiate, read_body
from app.io.codec import loads
from app.io.parquet import DEFAULT_MAX_CELLS, PARQUET_TYPES, read_parquet, write_parquet
from app.server.http_errors import BadInput, BadOutput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PandasDataFrame", "cast", "lazy_pandas", "shape_fits"]


@functools.cache
def lazy_pandas() -> ModuleType:
    """pandas, imported on first use: an API worker that never sees a DataFrame stays small."""
    return importlib.import_module("pandas")


Orient = Literal["records", "columns", "split", "index", "values", "table"]
Format = Literal["json", "parquet", "csv"]
JSON = "application/json"
CSV = "text/csv"
OCTET_STREAM = "application/octet-stream"
_TYPES: dict[str, tuple[str, ...]] = {"json": (JSON,), "csv": (CSV,), "parquet": (*PARQUET_TYPES, OCTET_STREAM)}


class PandasDataFrame(IODescriptor):
    """A ``pd.DataFrame``.

    JSON input may come as records (``[{"a": 1}, ...]``), columns (``{"a": [1, ...]}``), split
    (``{"columns": [...], "data": [[...]]}``) or values (``[[1, 2], ...]``) whatever ``orient``
    says: the shape of the value tells them apart; ``orient="index"`` and ``"table"`` read
    those layouts too. ``orient`` is the layout of JSON answers. CSV is ``text/csv``; Parquet is
    ``application/vnd.apache.parquet`` or, as BentoML clients send it, ``application/octet-stream``
    (sizes checked before decoding, see ``app.io.parquet``). Answers are in ``default_format``
    unless the Accept header asks for another of the three.

    ``columns`` names the columns of list-of-lists input and, for other input, the columns
    required (in that order, others dropped); with ``apply_column_names`` the incoming columns
    are renamed to ``columns`` instead. ``dtype`` (one dtype, or column → dtype) is cast to, and
    with ``enforce_dtype`` only when the cast keeps every value. ``shape`` (``-1`` for any
    length) is checked with ``enforce_shape``. A returned DataFrame is held to the same rules
    (a failure is the API's: 500). ``from_sample(df)`` fixes columns, dtypes and shape.
    """

    def __init__(
        self,
        orient: Orient = "records",
        columns: Sequence[str] | None = None,
        apply_column_names: bool = False,
        dtype: Any = None,
        enforce_dtype: bool = False,
        shape: Sequence[int] | None = None,
        enforce_shape: bool = False,
        default_format: Format = "json",
        *,
        max_cells: int = DEFAULT_MAX_CELLS,
    ) -> None:
        if orient not in get_args(Orient):
            raise ValueError(f"orient must be one of {', '.join(get_args(Orient))}, not {orient!r}")
        if default_format not in _TYPES:
            raise ValueError(f"default_format must be 'json', 'parquet' or 'csv', not {default_format!r}")
        self.orient = orient
        self.columns = list(columns) if columns is not None else None
        self.apply_column_names = apply_column_names
        self.dtype = None if isinstance(dtype, bool) else dtype  # BentoML's True/False: let pandas infer
        self.enforce_dtype = enforce_dtype
        self.shape = tuple(int(n) for n in shape) if shape is not None else None
        self.enforce_shape = enforce_shape
        self.default_format = default_format
        self.max_cells = max_cells
        order = [default_format, *(f for f in ("json", "csv", "parquet") if f != default_format)]
        self.media_types = tuple(t for f in order for t in _TYPES[f])
        self._options_given()

    def _check_options(self) -> None:
        if self.apply_column_names and not self.columns:
            raise ValueError("apply_column_names needs columns")
        if self.enforce_dtype and self.dtype is None:
            raise ValueError("enforce_dtype needs dtype")
        if self.enforce_shape and self.shape is None:
            raise ValueError("enforce_shape needs shape")

    # -- input --------------------------------------------------------------------------------

    async def from_request(self, request: Request) -> pd.DataFrame:
        media_type = self.check_media_type(request)
        body = await read_body(request)
        if media_type == CSV:
            return self._conform(_from_csv(body))
        if media_type in _TYPES["parquet"]:
            read = functools.partial(read_parquet, body, max_cells=self.max_cells)
            frame = await anyio.to_thread.run_sync(read, abandon_on_cancel=True)  # a timeout need not wait
            return self._conform(frame)
        return self.from_json_value(loads(body))

    def from_json_value(self, value: Any) -> pd.DataFrame:
        """A DataFrame from parsed JSON in any orientation (BadInput if not a table)."""
        return self._conform(self._from_json(value))

    def _from_json(self, value: Any) -> pd.DataFrame:
        pd = lazy_pandas()
        try:
            if isinstance(value, list):
                if value and all(isinstance(row, list) for row in value):
                    return pd.DataFrame(value, columns=None if self.apply_column_names else self.columns)
                if all(isinstance(row, Mapping) for row in value):
                    return pd.DataFrame.from_records(value)
            elif isinstance(value, Mapping):
                if self.orient == "table" and {"schema", "data"} <= set(value):
                    return pd.read_json(io.StringIO(orjson.dumps(value).decode()), orient="table")
                if self.orient == "index" and value and all(isinstance(v, Mapping) for v in value.values()):
                    return pd.DataFrame.from_dict(value, orient="index")
                if _is_split(value, declared=self.orient == "split"):
                    return pd.DataFrame(value["data"], columns=value.get("columns"), index=value.get("index"))
                if value and not any(isinstance(v, (list, Mapping)) for v in value.values()):
                    return pd.DataFrame([value])  # one record
                return pd.DataFrame(value)
        except Exception as exc:  # pandas raises many kinds for odd shapes; all are bad input
            raise BadInput("The JSON cannot be read as a table.", detail=str(exc)) from exc
        raise BadInput(
            "The JSON is not a table.",
            detail="Send a list of records, an object of columns, or {'columns': [...], 'data': [[...]]}.",
        )

    def _conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with the declared columns, dtypes and shape (BadInput if it cannot have them)."""
        if self.columns is not None:
            if self.apply_column_names:
                if frame.shape[1] != len(self.columns):
                    raise BadInput(
                        f"The table has {frame.shape[1]} columns, expected {len(self.columns)}.",
                        detail={"expected_columns": self.columns, "got_columns": [str(c) for c in frame.columns]},
                    )
                frame = frame.set_axis(self.columns, axis="columns")
            elif list(frame.columns) != self.columns:
                missing = [c for c in self.columns if c not in frame.columns]
                if missing:
                    raise BadInput(
                        f"The table lacks column{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}.",
                        detail={"missing_columns": missing, "expected_columns": self.columns},
                    )
                frame = frame[self.columns]
        if self.dtype is not None:
            frame = cast(frame, self.dtype, lossless=self.enforce_dtype)
        if self.shape is not None and self.enforce_shape and not shape_fits(frame.shape, self.shape):
            raise BadInput(
                f"The table has shape {list(frame.shape)}, expected {list(self.shape)}.",
                detail={"expected_shape": list(self.shape), "got_shape": list(frame.shape)},
            )
        return frame

    # -- output -------------------------------------------------------------------------------

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        frame = _as_frame(value)
        with as_output_error():
            frame = self._conform(frame)
        media_type = negotiate(accept, self.media_types)
        if media_type == CSV:
            return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8")
        if media_type in _TYPES["parquet"]:
            return Response(write_parquet(frame), media_type=media_type)
        return Response(self._json(frame), media_type=JSON)

    def _json(self, frame: pd.DataFrame) -> str:
        try:
            if self.orient in ("split", "table"):
                keep_index = not isinstance(frame.index, lazy_pandas().RangeIndex)
                return str(frame.to_json(orient=self.orient, date_format="iso", index=keep_index))
            return str(frame.to_json(orient=self.orient, date_format="iso"))
        except (ValueError, TypeError, OverflowError) as exc:  # a non-unique index for orient="index", ...
            message = f"The DataFrame cannot be written as JSON in orient {self.orient!r}."
            raise BadOutput(message, detail=str(exc)) from exc

    # -- samples and documentation ------------------------------------------------------------

    def _take_sample(self, sample: Any, given: set[str]) -> pd.DataFrame:
        frame = _sample_frame(sample)
        frame = frame.set_axis([str(c) for c in frame.columns], axis="columns")
        if "columns" not in given:
            self.columns = list(frame.columns)
        if "dtype" not in given:
            self.dtype = {str(c): str(t) for c, t in frame.dtypes.items()}
        if "shape" not in given:
            self.shape = tuple(frame.shape)
        return frame

    def spec(self) -> dict[str, Any]:
        return {
            "type": "dataframe",
            "orient": self.orient,
            "columns": self.columns,
            "apply_column_names": self.apply_column_names,
            "dtype": None if self.dtype is None else _dtype_text(self.dtype),
            "enforce_dtype": self.enforce_dtype,
            "shape": None if self.shape is None else list(self.shape),
            "enforce_shape": self.enforce_shape,
            "default_format": self.default_format,
        }

    def openapi_example(self) -> Any:
        return None if self.sample is None else orjson.loads(self._json(self.sample))

    def openapi_request_body(self) -> dict[str, Any]:
        return self._with_example(self._content(), JSON)

    def openapi_responses(self) -> dict[str, Any]:
        return self._with_example(self._content(), JSON)

    def _content(self) -> dict[str, Any]:
        binary = {"type": "string", "format": "binary"}
        schemas = {"json": self._json_schema(), "csv": {"type": "string"}, "parquet": binary}
        return {t: {"schema": dict(schemas[_format_of(t)])} for t in self.media_types}

    def _json_schema(self) -> dict[str, Any]:
        names = self.columns or (list(self.dtype) if isinstance(self.dtype, Mapping) else None)
        cell = {c: _cell_schema(self.dtype, c) for c in names or []}
        if self.orient == "split":
            return {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array", "items": {"type": "array"}},
                    "index": {"type": "array"},
                },
                "required": ["data"],
            }
        if self.orient == "values":
            return {"type": "array", "items": {"type": "array"}}
        if self.orient == "table":
            return {"type": "object", "properties": {"schema": {"type": "object"}, "data": {"type": "array"}}}
        if self.orient == "columns":
            by_column: dict[str, Any] = {"type": "object", "additionalProperties": {"type": ["array", "object"]}}
            if names:
                by_column["properties"] = {c: {"type": ["array", "object"]} for c in names}
                by_column["required"] = list(names)
            return by_column
        record: dict[str, Any] = {"type": "object"}
        if names:
            record["properties"] = cell
            if self.columns:
                record["required"] = list(self.columns)
        if self.orient == "index":
            return {"type": "object", "additionalProperties": record}
        return {"type": "array", "items": record}


def cast(value: Any, dtype: Any, *, lossless: bool) -> Any:
    """``value.astype(dtype)`` for a DataFrame or Series; with ``lossless``, only if no value changes."""
    try:
        result = value.astype(dtype)
    except Exception as exc:  # ValueError, TypeError, KeyError (a dtype for a missing column)
        raise BadInput("The table's values do not fit the declared dtypes.", detail=str(exc)) from exc
    if lossless:
        changed = _changed_columns(value, result)
        if changed:
            raise BadInput(
                "The table's values would change if cast to the declared dtypes.",
                detail={"columns": changed, "dtype": _dtype_text(dtype)},
            )
    return result


def _dtype_text(dtype: Any) -> Any:
    return {str(k): str(v) for k, v in dtype.items()} if isinstance(dtype, Mapping) else str(dtype)


def _changed_columns(before: Any, after: Any) -> list[str]:
    pd = lazy_pandas()
    pairs = [(str(before.name), before, after)] if isinstance(before, pd.Series) else [
        (str(c), before[c], after[c]) for c in before.columns
    ]
    changed = []
    for name, old, new in pairs:
        if old.dtype == new.dtype:
            continue
        try:
            same = (new.astype(old.dtype) == old) | (old.isna() & new.isna())
            if not bool(same.all()):
                changed.append(name)
        except (TypeError, ValueError):
            changed.append(name)
    return changed


def shape_fits(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(shape) == len(expected) and all(e == -1 or e == s for s, e in zip(shape, expected, strict=True))


def _format_of(media_type: str) -> str:
    return next(f for f, types in _TYPES.items() if media_type in types)


def _cell_schema(dtype: Any, column: str) -> dict[str, Any]:
    declared = dtype.get(column) if isinstance(dtype, Mapping) else dtype
    if declared is None:
        return {}
    try:
        kind = lazy_pandas().api.types.pandas_dtype(declared).kind
    except TypeError:
        return {}
    json_type = {"b": "boolean", "i": "integer", "u": "integer", "f": "number", "U": "string", "M": "string"}.get(kind)
    if kind == "O" and str(declared) in ("str", "string"):
        json_type = "string"
    return {"type": json_type} if json_type else {}


def _is_split(value: Mapping[str, Any], declared: bool) -> bool:
    """``{"columns": [...], "data": [[...]]}``; with ``orient="split"`` the columns may be left out."""
    keys = set(value)
    needed = {"data"} if declared else {"columns", "data"}
    return needed <= keys <= {"columns", "data", "index"}


def _from_csv(body: bytes) -> pd.DataFrame:
    pd = lazy_pandas()
    try:
        return pd.read_csv(io.BytesIO(body))
    except pd.errors.EmptyDataError as exc:
        raise BadInput("The CSV body is empty.", detail=str(exc)) from exc
    except Exception as exc:
        raise BadInput("The request body is not valid CSV.", detail=str(exc)) from exc


def _as_frame(value: Any) -> pd.DataFrame:
    pd = lazy_pandas()
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    try:
        return pd.DataFrame(value)
    except Exception as exc:
        raise BadOutput(f"A {type(value).__name__} is not a table.", detail=str(exc)) from exc


def _sample_frame(sample: Any) -> pd.DataFrame:
    pd = lazy_pandas()
    if isinstance(sample, (str, Path)) and Path(sample).suffix.lower() in (".csv", ".json", ".parquet"):
        path = Path(sample)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".parquet":
            return read_parquet(path.read_bytes())
        return PandasDataFrame().from_json_value(orjson.loads(path.read_bytes()))
    if isinstance(sample, pd.DataFrame):
        return sample
    if isinstance(sample, pd.Series):
        return sample.to_frame()
    if isinstance(sample, (str, bytes)):
        sample = orjson.loads(sample)
    if isinstance(sample, (list, Mapping)):
        return PandasDataFrame().from_json_value(sample)
    try:
        return pd.DataFrame(sample)
    except Exception as exc:
        raise ValueError(f"PandasDataFrame.from_sample cannot make a DataFrame of a {type(sample).__name__}") from exc
