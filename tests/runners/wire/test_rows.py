import numpy as np
import pandas as pd
import pytest

from runners.errors import RunnerError
from runners.wire import rows


def test_arrays_share_a_key_only_with_the_same_dtype_and_row_shape() -> None:
    a = np.zeros((2, 4))
    assert rows.key(a, 0) == rows.key(np.ones((7, 4)), 0)
    assert rows.key(a, 0) != rows.key(np.zeros((2, 3)), 0)
    assert rows.key(a, 0) != rows.key(np.zeros((2, 4), dtype=np.float32), 0)
    assert rows.key(np.float64(1.0), 0) is None
    assert rows.key(np.array(3.0), 0) is None
    assert rows.key({"a": 1}, 0) is None
    assert rows.key([1, 2], 1) is None


def test_merge_and_split_arrays_along_any_dim() -> None:
    parts = [np.arange(4).reshape(1, 4), np.arange(8).reshape(2, 4) + 100]
    merged = rows.merge(parts, 0)
    assert merged.shape == (3, 4)
    back = rows.split(merged * 2, [1, 2], 0)
    assert [p.tolist() for p in back] == [(parts[0] * 2).tolist(), (parts[1] * 2).tolist()]

    columns = [np.ones((3, 1)), np.ones((3, 2))]
    assert rows.merge(columns, 1).shape == (3, 3)
    assert [p.shape for p in rows.split(np.zeros((3, 3)), [1, 2], 1)] == [(3, 1), (3, 2)]


def test_dataframes_merge_by_rows_and_get_their_index_back() -> None:
    a = pd.DataFrame({"x": [1.0, 2.0]}, index=[10, 11])
    b = pd.DataFrame({"x": [3.0]}, index=[10])
    assert rows.key(a, 0) == rows.key(b, 0)
    assert rows.key(a, 0) != rows.key(pd.DataFrame({"y": [1.0]}), 0)
    merged = rows.merge([a, b], 0)
    assert merged["x"].tolist() == [1.0, 2.0, 3.0]
    first, second = rows.split(merged * 10, [2, 1], 0, [a, b])
    assert first.index.tolist() == [10, 11] and first["x"].tolist() == [10.0, 20.0]
    assert second.index.tolist() == [10] and second["x"].tolist() == [30.0]


def test_lists_and_tuples_of_outputs() -> None:
    assert rows.merge([[1], [2, 3]], 0) == [1, 2, 3]
    assert rows.split(["a", "b", "c"], [1, 2], 0) == [["a"], ["b", "c"]]
    labels, scores = np.array([0, 1, 2]), np.array([[0.1], [0.2], [0.3]])
    first, second = rows.split((labels, scores), [2, 1], 0)
    assert first[0].tolist() == [0, 1] and second[1].tolist() == [[0.3]]


def test_a_result_without_one_row_per_input_row_is_an_error() -> None:
    with pytest.raises(RunnerError, match="one row per input row"):
        rows.split(np.zeros(2), [1, 2], 0)
    with pytest.raises(RunnerError, match="cannot be split"):
        rows.split({"a": 1}, [1, 2], 0)
