"""``Arguments``: which calls share a batch, how they merge, and the one-argument case unchanged."""

import numpy as np
import pandas as pd

from runners.wire import rows
from runners.wire.arguments import Arguments


def test_one_positional_argument_keys_as_its_value_does() -> None:
    x = np.ones((3, 4))
    assert Arguments.of(x).key(0) == rows.key(x, 0)
    assert Arguments.of(x).count(0) == 3
    assert Arguments.of({"a": 1}).key(0) is None


def test_batched_arguments_merge_and_the_others_must_be_equal() -> None:
    a = Arguments.of(np.ones((2, 4)), np.zeros((2, 1)), threshold=0.5, labels=["x", "y"])
    b = Arguments.of(np.full((1, 4), 2.0), np.ones((1, 1)), threshold=0.5, labels=["z"])
    assert a.key(0) is not None and a.key(0) == b.key(0)
    assert (a.count(0), b.count(0)) == (2, 1)
    merged = Arguments.merge([a, b], 0)
    assert merged.args[0].tolist() == [[1.0] * 4] * 2 + [[2.0] * 4]
    assert merged.args[1].tolist() == [[0.0], [0.0], [1.0]]
    assert merged.kwargs == {"threshold": 0.5, "labels": ["x", "y", "z"]}
    assert Arguments.of(np.ones((1, 4)), np.ones((1, 1)), threshold=0.7, labels=["q"]).key(0) != a.key(0)
    assert Arguments.of(np.ones((1, 4)), np.ones((1, 1)), threshold=1, labels=["q"]).key(0) != b.key(0)
    assert Arguments.of(np.ones((1, 4)), np.ones((1, 2)), threshold=0.5, labels=["q"]).key(0) != b.key(0)


def test_unequal_row_counts_no_batched_argument_or_uncomparable_constants_run_alone() -> None:
    assert Arguments.of(np.ones((2, 4)), np.ones((3, 4))).key(0) is None
    assert Arguments.of(1, "text").key(0) is None
    assert Arguments.of(np.ones((2, 4)), {1, 2}).key(0) is None
    assert Arguments.of(np.ones((2, 4)), options={"k": [1, (2, None)]}).key(0) is not None


def test_dataframes_merge_along_rows_and_keyword_order_does_not_matter() -> None:
    a = Arguments.of(pd.DataFrame({"a": [1.0]}), scale=2, mode="fast")
    b = Arguments(( pd.DataFrame({"a": [2.0, 3.0]}),), {"mode": "fast", "scale": 2})
    assert a.key(0) == b.key(0)
    merged = Arguments.merge([a, b], 0)
    assert merged.args[0]["a"].tolist() == [1.0, 2.0, 3.0] and merged.kwargs == {"scale": 2, "mode": "fast"}
    assert a.rows_of(0) is a.args[0]


def test_batch_dim_other_than_zero() -> None:
    a = Arguments.of(np.ones((4, 2)), k=1)
    b = Arguments.of(np.ones((4, 3)), k=1)
    assert a.key(1) == b.key(1) and (a.count(1), b.count(1)) == (2, 3)
    assert Arguments.merge([a, b], 1).args[0].shape == (4, 5)
    assert Arguments.of([1, 2], k=1).key(1) is None  # lists have rows along dimension 0 only
