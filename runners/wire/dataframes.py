"""pandas DataFrames and Series on the wire, with their column names, dtypes and index.

Two forms, both checked against one allow-list of dtypes before ``astype``:

- columns, for msgpack (``to_parts``/``from_parts``): ``{"columns", "dtypes", "data"}`` with one
  entry of ``data`` per column, a numpy array for plain numpy dtypes (numbers, bools, naive
  datetimes) and a list of values otherwise (strings, categories, nullable and zoned types, missing
  values as ``None``); optional ``"index"`` (absent for a default ``RangeIndex``), ``"index_dtype"``,
  and ``"series": true`` with ``"name"`` for a Series;
- rows, as JSON (``to_split_json``/``from_split_json``, ``application/vnd.tiffin.dataframe+json``):
  pandas' "split" orientation plus the dtypes, datetimes as ISO 8601 strings.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import orjson

from runners.errors import InvalidInput

__all__ = ["from_parts", "from_split_json", "is_frame", "to_parts", "to_split_json"]

_DTYPE = re.compile(
    r"^(u?int(8|16|32|64)|float(16|32|64)|complex(64|128)|bool|object|str|string|category"
    r"|U?Int(8|16|32|64)|Float(32|64)|boolean"
    r"|datetime64\[(s|ms|us|ns)(, [A-Za-z0-9_/+:-]+)?\]|timedelta64\[(s|ms|us|ns)\])$"
)
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def is_frame(value: Any) -> bool:
    kind = type(value)
    return kind.__module__.partition(".")[0] == "pandas" and kind.__name__ in ("DataFrame", "Series")


def check_dtype(dtype: Any) -> str:
    if not isinstance(dtype, str) or not _DTYPE.match(dtype):
        raise ValueError(f"dtype {dtype!r} is not accepted")
    return dtype


# -- columns (msgpack) ---------------------------------------------------------------------------


def to_parts(value: Any) -> dict[str, Any]:
    import pandas as pd

    from runners.wire.values import UnsendableValue

    series = isinstance(value, pd.Series)
    frame = value.to_frame() if series else value
    dtypes = [str(t) for t in frame.dtypes]
    for label, dtype in zip(frame.columns, dtypes, strict=True):
        if not _DTYPE.match(dtype):
            raise UnsendableValue(f"column {label!r} has dtype {dtype}, which the hop does not carry")
    parts: dict[str, Any] = {
        "columns": list(frame.columns),
        "dtypes": dtypes,
        "data": [_column(column) for _, column in frame.items()],
    }
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        if index.nlevels > 1:
            raise UnsendableValue("a MultiIndex is not carried; reset_index() first")
        parts["index"] = _column(index)
        parts["index_dtype"] = str(index.dtype) if _DTYPE.match(str(index.dtype)) else "object"
    if series:
        parts["series"] = True
        parts["name"] = value.name
    return parts


def _column(values: Any) -> Any:
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and not dtype.hasobject:
        return values.to_numpy()
    return [_plain(v) for v in values.tolist()]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float | bytes):
        return value
    if _is_missing(value):
        return None
    if hasattr(value, "isoformat"):  # a zoned Timestamp, a datetime
        return value.isoformat()
    return value  # the packer says whether it can go


def from_parts(parts: Any) -> Any:
    import pandas as pd

    try:
        columns, dtypes, data = parts["columns"], parts["dtypes"], parts["data"]
        if not (isinstance(columns, list) and isinstance(dtypes, list) and isinstance(data, list)):
            raise TypeError("columns, dtypes and data must be lists")
        if not len(columns) == len(dtypes) == len(data):
            raise ValueError("columns, dtypes and data differ in length")
        if any(not isinstance(col, list | np.ndarray) or np.ndim(col) != 1 for col in data):
            raise ValueError("every column must be a list or a 1-d array")
        if len({len(col) for col in data}) > 1:
            raise ValueError("the columns differ in length")
        for dtype in dtypes:
            check_dtype(dtype)
        index = parts.get("index")
        if index is not None:
            if not isinstance(index, list | np.ndarray) or np.ndim(index) != 1:
                raise ValueError("the index must be a list or a 1-d array")
            index = pd.Index(_typed(index, check_dtype(parts.get("index_dtype", "object"))))
        typed = {i: _typed(col, dtype) for i, (col, dtype) in enumerate(zip(data, dtypes, strict=True))}
        frame = pd.DataFrame(typed, index=index, copy=False)
        frame.columns = pd.Index(columns, tupleize_cols=False) if columns else frame.columns
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InvalidInput("A DataFrame in the body is not valid.", detail=str(exc)) from None
    if parts.get("series"):
        if frame.shape[1] != 1:
            raise InvalidInput("A Series in the body does not hold exactly one column.")
        return frame.iloc[:, 0].rename(parts.get("name"))
    return frame


def _typed(column: Any, dtype: str) -> Any:
    """``column`` (a 1-d array or a list) as an array of ``dtype``; an array already of it as is."""
    if isinstance(column, np.ndarray) and column.dtype.name == dtype:
        return column
    import pandas as pd

    return pd.Series(column, dtype=None if isinstance(column, np.ndarray) else object).astype(dtype).array


# -- rows (JSON) ---------------------------------------------------------------------------------


def to_split_json(value: Any) -> bytes:
    import pandas as pd

    series = isinstance(value, pd.Series)
    frame = value.to_frame() if series else value
    body: dict[str, Any] = {
        "columns": list(frame.columns),
        "dtypes": [str(t) for t in frame.dtypes],
        "data": frame.to_numpy(dtype=object).tolist(),
    }
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        body["index"] = index.tolist()
    if series:
        body["series"] = True
    return orjson.dumps(body, default=json_default, option=_JSON_OPTIONS)


def from_split_json(value: Any) -> Any:
    import pandas as pd

    try:
        columns, dtypes, data = value["columns"], value["dtypes"], value["data"]
        if not (isinstance(columns, list) and isinstance(dtypes, list) and isinstance(data, list)):
            raise TypeError("columns, dtypes and data must be lists")
        if len(columns) != len(dtypes):
            raise ValueError("columns and dtypes differ in length")
        if len(set(map(repr, columns))) != len(columns):
            raise ValueError("column names must be unique")
        if any(not isinstance(row, list) or len(row) != len(columns) for row in data):
            raise ValueError("every row of data must have one value per column")
        for dtype in dtypes:
            check_dtype(dtype)
        index = value.get("index")
        frame = pd.DataFrame(data, columns=columns, index=index)
        frame = frame.astype(dict(zip(frame.columns, dtypes, strict=True)))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InvalidInput("The body is not a valid DataFrame payload.", detail=str(exc)) from None
    if value.get("series"):
        return frame.iloc[:, 0] if frame.shape[1] == 1 else frame
    return frame


def json_default(value: Any) -> Any:
    """What orjson cannot write itself: numpy values, missing values, datetimes, sets and tuples."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or _is_missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_missing(value: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:
        return False
    return value is pd.NA or value is pd.NaT
