"""Rows along a batch dimension: which inputs can share a batch, merging them, splitting results.

Inputs merge only with inputs of the same kind and layout (the ``key``): numpy arrays of one
dtype whose shapes differ only along the batch dimension, DataFrames with the same columns and
dtypes, Series of one dtype, lists. Anything else (scalars, dicts, tuples, 0-d arrays) runs alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import accumulate, pairwise
from typing import Any

import numpy as np

from runners.errors import RunnerError


def _pandas() -> Any:
    import pandas

    return pandas


def _is_pandas(value: Any, kind: str) -> bool:
    return type(value).__module__.partition(".")[0] == "pandas" and type(value).__name__ == kind


def key(value: Any, dim: int) -> Hashable | None:
    """What must match for two inputs to share a batch; ``None`` when the input cannot be merged."""
    if isinstance(value, np.ndarray):
        if value.ndim <= dim or value.dtype.hasobject:
            return None
        return ("ndarray", value.dtype.str, value.shape[:dim] + value.shape[dim + 1 :])
    if dim != 0:
        return None
    if isinstance(value, list):
        return ("list",)
    if _is_pandas(value, "DataFrame"):
        return ("DataFrame", tuple(value.columns), tuple(str(t) for t in value.dtypes))
    if _is_pandas(value, "Series"):
        return ("Series", str(value.dtype), value.name)
    return None


def count(value: Any, dim: int) -> int:
    if isinstance(value, np.ndarray):
        return int(value.shape[dim])
    return len(value)


def merge(values: Sequence[Any], dim: int) -> Any:
    first = values[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(values, axis=dim)
    if isinstance(first, list):
        return [row for value in values for row in value]
    return _pandas().concat(values, axis=0, ignore_index=True)


def split(result: Any, counts: Sequence[int], dim: int, inputs: Sequence[Any] = ()) -> list[Any]:
    """Cut a batch result into one part per caller, ``counts[i]`` rows each, in order.

    A tuple result (several outputs) is split element-wise. Pandas results get each caller's
    own index back when the inputs were pandas objects.
    """
    total = sum(counts)
    if isinstance(result, tuple):
        columns = [split(part, counts, dim, inputs) for part in result]
        return [tuple(parts) for parts in zip(*columns, strict=True)]
    if isinstance(result, np.ndarray):
        if result.ndim <= dim or result.shape[dim] != total:
            raise _mismatch(result.shape[dim] if result.ndim > dim else None, total)
        return np.split(result, list(accumulate(counts))[:-1], axis=dim)
    if isinstance(result, list) and dim == 0:
        if len(result) != total:
            raise _mismatch(len(result), total)
        return [result[a:b] for a, b in pairwise([0, *accumulate(counts)])]
    if (_is_pandas(result, "DataFrame") or _is_pandas(result, "Series")) and dim == 0:
        if len(result) != total:
            raise _mismatch(len(result), total)
        parts = [result.iloc[a:b] for a, b in pairwise([0, *accumulate(counts)])]
        indexes = [getattr(value, "index", None) for value in inputs]
        if len(indexes) == len(parts) and all(
            i is not None and len(i) == len(p) for i, p in zip(indexes, parts, strict=True)
        ):
            parts = [p.set_axis(i, axis=0) for p, i in zip(parts, indexes, strict=True)]
        return parts
    raise RunnerError(
        "A batchable method returned a value that cannot be split by rows.",
        detail=f"{type(result).__name__} along batch_dim {dim}",
    )


def _mismatch(found: int | None, expected: int) -> RunnerError:
    return RunnerError(
        "A batchable method must return one row per input row.",
        detail=f"got {found} rows for {expected} input rows",
    )
