"""Parquet bodies for ``PandasDataFrame``, read with their sizes checked before they are decoded.

A Parquet file is compressed and dictionary-encoded, so a small body can declare billions of
values or one long string repeated on every row. Before a column is decoded, the footer's
counts are checked: values (leaf values, nulls included) at most ``max_cells``, uncompressed
pages at most ``max_bytes``. String and binary columns are read dictionary-encoded and their
decoded length summed from the dictionary before they are expanded. Over either limit is 413;
a body that is not Parquet is 400. pyarrow reads no Python objects from the file (no pickle).

pyarrow's C++ reader can abort the whole process on a damaged footer (an exception thrown
where none may be, so ``std::terminate``: reliability.fuzz found one), so the file is read in a
helper process (one per API worker, started on first use from a forkserver) that hands back
the table as Arrow IPC bytes, written by pyarrow itself. A body that kills the helper is 400,
and the next body gets a new helper.
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import ModuleType
from typing import TYPE_CHECKING, Any

from app.server.http_errors import BadInput, BadOutput, PayloadTooLarge

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_CELLS", "PARQUET_TYPES", "read_parquet", "write_parquet"]

#: The registered type first; BentoML clients send Parquet as application/octet-stream.
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
#: Values a Parquet body may hold: about what a 20 MiB CSV body can.
DEFAULT_MAX_CELLS = 10_000_000
#: Decoded bytes (uncompressed pages, expanded strings) a Parquet body may hold.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_MAGIC = b"PAR1"


@functools.cache
def _pa() -> ModuleType:
    """pyarrow with its Parquet and compute modules loaded, on first use (it is a large import)."""
    importlib.import_module("pyarrow.parquet")
    importlib.import_module("pyarrow.compute")
    importlib.import_module("pyarrow.ipc")
    return importlib.import_module("pyarrow")


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _reader() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["app.io.parquet", "pyarrow.parquet", "pyarrow.compute", "pyarrow.ipc"])
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def read_parquet(
    body: bytes, *, max_cells: int = DEFAULT_MAX_CELLS, max_bytes: int = DEFAULT_MAX_BYTES
) -> pd.DataFrame:
    if len(body) < 12 or not (body.startswith(_MAGIC) and body.endswith(_MAGIC)):
        raise BadInput("The request body is not a Parquet file.")
    pool = _reader()
    try:
        kind, payload = pool.submit(_read_isolated, body, max_cells, max_bytes).result()
    except BrokenProcessPool:
        _discard(pool)
        raise BadInput("The Parquet file cannot be read: it crashed the Parquet reader.") from None
    if kind == "table":
        return _pa().ipc.open_stream(payload).read_all().to_pandas()
    status, message, detail = payload
    raise (PayloadTooLarge if status == 413 else BadInput)(message, detail=detail)


def _read_isolated(body: bytes, max_cells: int, max_bytes: int) -> tuple[str, Any]:
    """In the helper: ("table", Arrow IPC bytes) or ("error", (status, message, detail))."""
    try:
        table = _read_table(body, max_cells=max_cells, max_bytes=max_bytes)
    except (BadInput, PayloadTooLarge) as exc:
        return "error", (exc.status_code, exc.message, exc.detail)
    pa = _pa()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return "table", sink.getvalue().to_pybytes()


def _read_table(body: bytes, *, max_cells: int, max_bytes: int) -> Any:
    pa = _pa()
    try:
        source = pa.parquet.ParquetFile(pa.BufferReader(body))
        metadata, schema = source.metadata, source.schema_arrow
    except Exception as exc:  # ArrowInvalid, OSError: a damaged footer
        raise BadInput("The Parquet file's footer cannot be read.", detail=str(exc)) from exc
    cells = decoded = 0
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            cells += chunk.num_values
            decoded += chunk.total_uncompressed_size
    _check(cells, max_cells, "values")
    _check(decoded, max_bytes, "bytes once uncompressed")
    strings = [f.name for f in schema if _is_bytes_like(pa, f.type)]
    nested = [f.name for f in schema if pa.types.is_nested(f.type) and _holds_bytes(pa, f.type)]
    if nested:
        raise BadInput("Nested columns of strings are not accepted in Parquet input.", detail={"columns": nested})
    try:
        table = pa.parquet.read_table(pa.BufferReader(body), read_dictionary=strings or None)
        for name in strings:
            index = table.schema.get_field_index(name)
            column = table.column(index)
            for part in column.chunks:
                lengths = pa.compute.binary_length(part.dictionary)
                decoded += pa.compute.sum(pa.compute.take(lengths, part.indices)).as_py() or 0
            _check(decoded, max_bytes, "bytes once its strings are expanded")
            table = table.set_column(index, schema.field(name), column.cast(schema.field(name).type))
        return table
    except PayloadTooLarge:
        raise
    except Exception as exc:  # corrupt pages, unsupported encodings, ...
        raise BadInput("The Parquet file cannot be read.", detail=str(exc)) from exc


def write_parquet(frame: pd.DataFrame) -> bytes:
    _pa()
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.set_axis([str(c) for c in frame.columns], axis="columns")
    try:
        data: Any = frame.to_parquet(engine="pyarrow")
    except Exception as exc:  # ArrowTypeError: a column of Python objects
        raise BadOutput("The DataFrame cannot be written as Parquet.", detail=str(exc)) from exc
    return bytes(data)


def _check(amount: int, limit: int, what: str) -> None:
    if amount > limit:
        raise PayloadTooLarge(
            f"The Parquet file holds more {what} than this API takes ({limit}).",
            detail={"limit": limit, "what": what},
        )


def _is_bytes_like(pa: ModuleType, tp: Any) -> bool:
    checks = ("is_string", "is_large_string", "is_binary", "is_large_binary", "is_string_view", "is_binary_view")
    return any(getattr(pa.types, name, lambda t: False)(tp) for name in checks)


def _holds_bytes(pa: ModuleType, tp: Any) -> bool:
    if _is_bytes_like(pa, tp):
        return True
    if pa.types.is_dictionary(tp):
        return False
    return any(_holds_bytes(pa, tp.field(i).type) for i in range(tp.num_fields)) if hasattr(tp, "num_fields") else False
