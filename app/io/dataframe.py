"""``PandasDataFrame``: a DataFrame from JSON (records, columns or split) or CSV, and back."""

from __future__ import annotations

import functools
import importlib
import io
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, negotiate, read_body
from app.io.codec import loads
from app.server.http_errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PandasDataFrame"]


@functools.cache
def _pd() -> ModuleType:
    """pandas, imported on first use: an API worker that never sees a DataFrame stays small."""
    return importlib.import_module("pandas")

Orient = Literal["records", "columns", "split"]
JSON = "application/json"
CSV = "text/csv"


class PandasDataFrame(IODescriptor):
    """A ``pd.DataFrame``.

    JSON input may come as records (``[{"a": 1}, ...]``), columns (``{"a": [1, ...]}``) or
    split (``{"columns": [...], "data": [[...]]}``) whatever ``orient`` says: the shape of the
    value tells them apart. ``orient`` is what responses use. ``columns`` names the columns of
    list-of-lists input and, for other input, the columns required (in that order).
    """

    media_types = (JSON, CSV)

    def __init__(
        self,
        orient: Orient = "records",
        columns: Sequence[str] | None = None,
        dtype: Any = None,
    ) -> None:
        if orient not in ("records", "columns", "split"):
            raise ValueError(f"orient must be 'records', 'columns' or 'split', not {orient!r}")
        self.orient = orient
        self.columns = list(columns) if columns is not None else None
        self.dtype = dtype

    async def from_request(self, request: Request) -> pd.DataFrame:
        media_type = self.check_media_type(request)
        body = await read_body(request)
        if media_type == CSV:
            return self._conform(_from_csv(body))
        return self.from_json_value(loads(body))

    def from_json_value(self, value: Any) -> pd.DataFrame:
        """A DataFrame from parsed JSON in any of the three orientations (BadInput if not a table)."""
        return self._conform(self._from_json(value))

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        frame = value if isinstance(value, _pd().DataFrame) else _as_frame(value)
        if negotiate(accept, (JSON, CSV)) == CSV:
            return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8")
        if self.orient == "split":
            keep_index = not isinstance(frame.index, _pd().RangeIndex)
            body = frame.to_json(orient="split", date_format="iso", index=keep_index)
        else:
            body = frame.to_json(orient=self.orient, date_format="iso")
        return Response(body, media_type=JSON)

    def openapi_request_body(self) -> dict[str, Any]:
        return {JSON: {"schema": self._json_schema()}, CSV: {"schema": {"type": "string"}}}

    def openapi_responses(self) -> dict[str, Any]:
        return {JSON: {"schema": self._json_schema()}, CSV: {"schema": {"type": "string"}}}  # CSV on Accept

    def _json_schema(self) -> dict[str, Any]:
        cell: dict[str, Any] = {}
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
        if self.orient == "columns":
            row: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "array"}}
            if self.columns:
                row["properties"] = {c: {"type": "array", "items": cell} for c in self.columns}
                row["required"] = list(self.columns)
            return row
        record: dict[str, Any] = {"type": "object"}
        if self.columns:
            record["properties"] = {c: cell for c in self.columns}
            record["required"] = list(self.columns)
        return {"type": "array", "items": record}

    def _from_json(self, value: Any) -> pd.DataFrame:
        try:
            if isinstance(value, list):
                if value and all(isinstance(row, list) for row in value):
                    return _pd().DataFrame(value, columns=self.columns)
                if all(isinstance(row, Mapping) for row in value):
                    return _pd().DataFrame.from_records(value)
            elif isinstance(value, Mapping):
                if _is_split(value, declared=self.orient == "split"):
                    return _pd().DataFrame(value["data"], columns=value.get("columns"), index=value.get("index"))
                if value and not any(isinstance(v, (list, Mapping)) for v in value.values()):
                    return _pd().DataFrame([value])  # one record
                return _pd().DataFrame(value)
        except Exception as exc:  # pandas raises many kinds for odd shapes; all are bad input
            raise BadInput("The JSON cannot be read as a table.", detail=str(exc)) from exc
        raise BadInput(
            "The JSON is not a table.",
            detail="Send a list of records, an object of columns, or {'columns': [...], 'data': [[...]]}.",
        )

    def _conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.columns is not None and list(frame.columns) != self.columns:
            missing = [c for c in self.columns if c not in frame.columns]
            if missing:
                raise BadInput(
                    f"The table lacks column{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}.",
                    detail={"missing_columns": missing, "expected_columns": self.columns},
                )
            frame = frame[self.columns]
        if self.dtype is not None:
            try:
                frame = frame.astype(self.dtype)
            except Exception as exc:
                raise BadInput("The table's values do not fit the declared dtypes.", detail=str(exc)) from exc
        return frame


def _is_split(value: Mapping[str, Any], declared: bool) -> bool:
    """``{"columns": [...], "data": [[...]]}``; with ``orient="split"`` the columns may be left out."""
    keys = set(value)
    needed = {"data"} if declared else {"columns", "data"}
    return needed <= keys <= {"columns", "data", "index"}


def _from_csv(body: bytes) -> pd.DataFrame:
    try:
        return _pd().read_csv(io.BytesIO(body))
    except _pd().errors.EmptyDataError as exc:
        raise BadInput("The CSV body is empty.", detail=str(exc)) from exc
    except Exception as exc:
        raise BadInput("The request body is not valid CSV.", detail=str(exc)) from exc


def _as_frame(value: Any) -> pd.DataFrame:
    if isinstance(value, _pd().Series):
        return value.to_frame()
    return _pd().DataFrame(value)
