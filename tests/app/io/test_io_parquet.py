from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.io.parquet import read_parquet, write_parquet
from app.server.http_errors import BadInput, BadOutput, PayloadTooLarge


def parquet(table: pa.Table, **options: object) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **options)
    return sink.getvalue().to_pybytes()


def test_round_trip_written_by_pyarrow():
    table = pa.table({"x": pa.array([1, 2, 3], pa.int32()), "s": ["a", None, "c"], "b": [True, False, True]})
    frame = read_parquet(parquet(table))
    assert frame["x"].dtype == "int32"
    assert frame["s"].tolist()[0] == "a" and pd.isna(frame["s"][1])
    assert frame["b"].dtype == bool


def test_many_values_in_a_few_bytes_are_refused_before_decoding():
    body = parquet(pa.table({"zero": np.zeros(2_000_000, dtype=np.int8)}), compression="zstd")
    assert len(body) < 100_000
    with pytest.raises(PayloadTooLarge, match="values"):
        read_parquet(body, max_cells=1_000_000)
    assert read_parquet(body, max_cells=2_000_000).shape == (2_000_000, 1)


def test_a_long_string_repeated_on_every_row_is_refused_before_it_is_expanded():
    # Dictionary-encoded: one 100 kB string stored once, 200 rows pointing at it = 20 MB decoded.
    body = parquet(pa.table({"s": ["x" * 100_000] * 200}), compression="zstd")
    assert len(body) < 5_000
    with pytest.raises(PayloadTooLarge, match="strings are expanded"):
        read_parquet(body, max_bytes=10_000_000)
    assert read_parquet(body, max_bytes=30_000_000)["s"].str.len().sum() == 20_000_000


def test_uncompressed_size_is_checked():
    body = parquet(pa.table({"f": np.arange(100_000, dtype=np.float64)}))
    with pytest.raises(PayloadTooLarge, match="uncompressed"):
        read_parquet(body, max_bytes=10_000)


def test_nested_strings_are_refused():
    body = parquet(pa.table({"tags": [["a", "b"], ["c"]]}))
    with pytest.raises(BadInput, match="Nested"):
        read_parquet(body)
    assert read_parquet(parquet(pa.table({"v": [[1, 2], [3]]})))["v"].map(list).tolist() == [[1, 2], [3]]


@pytest.mark.parametrize("body", [b"", b"PAR1", b"not parquet at all", b"PAR1" + b"\xff" * 64 + b"PAR1"])
def test_not_parquet(body):
    with pytest.raises(BadInput):
        read_parquet(body)


def test_write_names_columns_as_strings_and_refuses_objects():
    frame = read_parquet(write_parquet(pd.DataFrame([[1, 2]])))
    assert list(frame.columns) == ["0", "1"]
    with pytest.raises(BadOutput):
        write_parquet(pd.DataFrame({"o": [object()]}))
