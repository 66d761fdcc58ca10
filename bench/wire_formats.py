"""Encode + decode time of one value in each candidate wire format for the runner hop.

    .venv/bin/python -m bench.wire_formats        # µs, min of 7 repeats; Arrow only if pyarrow is installed

The formats weighed for calls of several values: ``.npy`` (today's lone-array body), msgpack with
tiffin's extension types (``runners.wire.values``), JSON (orjson; DataFrames in pandas' split
orientation, ``runners.wire.dataframes``) and Arrow IPC (tensor messages for arrays, a stream for a
table). An empty cell is a value the format has no form for. In process; nothing is written.
"""

from __future__ import annotations

import importlib.util
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd

from runners.wire import dataframes, npy, values


def _time(fn: Callable[[], Any], number: int) -> float:
    fn()
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def _arrow_arrays(arrays: list[np.ndarray]) -> list[np.ndarray]:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    for array in arrays:  # one message per array: a record batch needs columns of one length
        pa.ipc.write_tensor(pa.Tensor.from_numpy(array), sink)
    reader = pa.BufferReader(sink.getvalue())
    return [pa.ipc.read_tensor(reader).to_numpy() for _ in arrays]


def _arrow_frame(frame: pd.DataFrame) -> pd.DataFrame:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pa.ipc.open_stream(sink.getvalue()).read_all().to_pandas()


def main() -> int:
    row = np.array([[5.9, 3.0, 5.1, 1.8]])
    record = {"name": "iris", "endpoints": ["a", "b"], "n": 3, "score": 0.5}
    small = pd.DataFrame(row, columns=list("abcd"))
    large = pd.DataFrame(np.random.default_rng(0).random((100, 4)), columns=list("abcd"))
    arrow = importlib.util.find_spec("pyarrow") is not None

    def msgpack(value: Any) -> Callable[[], Any]:
        return lambda: values.unpack(values.pack(value))

    def split_json(frame: pd.DataFrame) -> Callable[[], Any]:
        return lambda: dataframes.from_split_json(orjson.loads(dataframes.to_split_json(frame)))

    cases: list[tuple[str, dict[str, Callable[[], Any] | None], int]] = [
        ("one 1x4 array", {"npy": lambda: npy.loads(npy.dumps(row)), "msgpack": msgpack(row),
                           "arrow": (lambda: _arrow_arrays([row])) if arrow else None}, 3000),
        ("[array, array, 0.5]", {"msgpack": msgpack([row, row, 0.5]),
                                 "arrow": (lambda: _arrow_arrays([row, row])) if arrow else None}, 3000),
        ("dict of 4 JSON values", {"msgpack": msgpack(record), "json": lambda: orjson.loads(orjson.dumps(record))},
         3000),
        ("DataFrame 1x4", {"msgpack": msgpack(small), "json": split_json(small),
                           "arrow": (lambda: _arrow_frame(small)) if arrow else None}, 200),
        ("DataFrame 100x4", {"msgpack": msgpack(large), "json": split_json(large),
                             "arrow": (lambda: _arrow_frame(large)) if arrow else None}, 200),
    ]
    columns = ("npy", "msgpack", "json", "arrow")
    print(f"{'µs, encode + decode':<24}" + "".join(f"{c:>9}" for c in columns))
    for name, fns, number in cases:
        cells = []
        for column in columns:
            fn = fns.get(column)
            cells.append(f"{_time(fn, number):9.1f}" if fn is not None else " " * 9)
        print(f"{name:<24}" + "".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
