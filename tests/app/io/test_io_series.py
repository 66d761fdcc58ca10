from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.io import PandasSeries
from app.server.http_errors import BadOutput


def test_list_of_values(client_for):
    client = client_for(PandasSeries())
    response = client.post("/", json=[1, 2, 3])
    assert response.status_code == 200
    assert response.json() == [1, 2, 3]
    assert isinstance(client.seen[0], pd.Series)
    assert client.seen[0].dtype == "int64"


def test_index_to_value_and_split(client_for):
    client = client_for(PandasSeries(orient="index"))
    assert client.post("/", json={"a": 1.5, "b": 2}).json() == {"a": 1.5, "b": 2.0}
    response = client.post("/", json={"name": "x", "index": ["p", "q"], "data": [1, 2]})
    assert response.json() == {"p": 1, "q": 2}
    assert client.seen[-1].name == "x"


def test_dtype_and_enforcement(client_for):
    client = client_for(PandasSeries(dtype="float32"))
    client.post("/", json=[1, 2])
    assert client.seen[0].dtype == "float32"
    strict = client_for(PandasSeries(dtype="int64", enforce_dtype=True))
    assert strict.post("/", json=[1.0, 2.0]).json() == [1, 2]
    assert strict.post("/", json=[1.5]).status_code == 400
    assert client_for(PandasSeries(dtype="int64")).post("/", json=["x"]).status_code == 400


def test_enforce_shape(client_for):
    client = client_for(PandasSeries(shape=(3,), enforce_shape=True))
    assert client.post("/", json=[1, 2, 3]).status_code == 200
    response = client.post("/", json=[1, 2])
    assert response.status_code == 400
    assert response.json()["detail"] == {"expected_shape": [3], "got_shape": [2]}


@pytest.mark.parametrize("body", [b"3", b'"text"', b"[1,", b"null"])
def test_not_a_series_is_400(client_for, body):
    response = client_for(PandasSeries()).post("/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_wrong_content_type_is_415(client_for):
    assert client_for(PandasSeries()).post("/", content=b"1,2", headers={"content-type": "text/csv"}).status_code == 415


def test_outputs_are_converted_and_held_to_the_declaration():
    assert PandasSeries().to_response(np.array([1, 2])).body == b"[1,2]"
    assert PandasSeries().to_response(pd.DataFrame({"a": [1, 2]})).body == b"[1,2]"
    assert PandasSeries(dtype="str").to_response([1, 2]).body == b'["1","2"]'
    with pytest.raises(BadOutput):
        PandasSeries().to_response(np.zeros((2, 2)))
    with pytest.raises(BadOutput):
        PandasSeries(shape=(1,), enforce_shape=True).to_response([1, 2])


def test_from_sample():
    desc = PandasSeries.from_sample(pd.Series([0.5, 1.5]))
    assert desc.dtype == "float64"
    assert desc.shape == (2,)
    assert desc.openapi_request_body()["application/json"]["example"] == [0.5, 1.5]
    assert PandasSeries.from_sample([1, 2, 3], shape=(-1,)).shape == (-1,)
    assert PandasSeries.from_sample(np.array([True])).dtype == "bool"


def test_from_sample_fills_what_enforcement_needs():
    desc = PandasSeries.from_sample([1, 2], enforce_dtype=True, enforce_shape=True)
    assert (desc.dtype, desc.shape) == ("int64", (2,))
    with pytest.raises(ValueError):
        PandasSeries(enforce_shape=True)
