from __future__ import annotations

import io

import pandas as pd
import pytest

from app.io import PandasDataFrame

RECORDS = [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}]


def test_records(client_for):
    client = client_for(PandasDataFrame())
    response = client.post("/", json=RECORDS)
    assert response.status_code == 200
    assert response.json() == RECORDS
    frame = client.seen[0]
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].dtype == "int64"


@pytest.mark.parametrize(
    "body",
    [
        {"a": [1, 3], "b": [2.5, 4.5]},
        {"a": {"0": 1, "1": 3}, "b": {"0": 2.5, "1": 4.5}},
        {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4.5]]},
    ],
    ids=["columns", "columns-with-index", "split"],
)
def test_other_orientations_are_detected(client_for, body):
    client = client_for(PandasDataFrame())
    response = client.post("/", json=body)
    assert response.status_code == 200
    assert response.json() == RECORDS


def test_single_record_object(client_for):
    assert client_for(PandasDataFrame()).post("/", json={"a": 1, "b": 2}).json() == [{"a": 1, "b": 2}]


def test_list_of_lists_takes_declared_columns(client_for):
    client = client_for(PandasDataFrame(columns=["a", "b"]))
    assert client.post("/", json=[[1, 2.5], [3, 4.5]]).json() == RECORDS
    assert client.post("/", json=[[1, 2, 3]]).status_code == 400


def test_declared_columns_are_required_and_ordered(client_for):
    client = client_for(PandasDataFrame(columns=["b", "a"]))
    response = client.post("/", json=[{"a": 1, "b": 2, "c": 3}])
    assert list(response.json()[0]) == ["b", "a"]
    response = client.post("/", json=[{"a": 1}])
    assert response.status_code == 400
    assert response.json()["detail"]["missing_columns"] == ["b"]


def test_dtype(client_for):
    client = client_for(PandasDataFrame(dtype={"a": "float32"}))
    client.post("/", json=RECORDS)
    assert client.seen[0]["a"].dtype == "float32"
    response = client_for(PandasDataFrame(dtype="int64")).post("/", json=[{"a": "x"}])
    assert response.status_code == 400


def test_csv_in_and_out(client_for):
    client = client_for(PandasDataFrame())
    response = client.post(
        "/", content=b"a,b\n1,2.5\n3,4.5\n", headers={"content-type": "text/csv", "accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert pd.read_csv(io.StringIO(response.text)).to_dict(orient="records") == RECORDS


@pytest.mark.parametrize("body", [b"", b'a,b\n1,"unterminated\n', b"\xff\xfe\x00"])
def test_bad_csv_is_400(client_for, body):
    response = client_for(PandasDataFrame()).post("/", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 400


@pytest.mark.parametrize("value", [[1, 2, 3], "table", 5, [{"a": 1}, 2], {"a": [1, 2], "b": [1]}])
def test_json_that_is_no_table_is_400(client_for, value):
    response = client_for(PandasDataFrame()).post("/", json=value)
    assert response.status_code == 400


def test_malformed_json_and_wrong_type(client_for):
    client = client_for(PandasDataFrame())
    assert client.post("/", content=b"[{", headers={"content-type": "application/json"}).status_code == 400
    response = client.post("/", content=b"x", headers={"content-type": "application/x-npy"})
    assert response.status_code == 415
    assert response.json()["detail"]["accepted"] == [
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
        "application/x-parquet",
        "application/parquet",
        "application/octet-stream",
    ]
    assert client.post("/", json=RECORDS).status_code == 200


def test_output_orientations():
    frame = pd.DataFrame(RECORDS)
    assert PandasDataFrame(orient="columns").to_response(frame).body == b'{"a":{"0":1,"1":3},"b":{"0":2.5,"1":4.5}}'
    assert PandasDataFrame(orient="split").to_response(frame).body == b'{"columns":["a","b"],"data":[[1,2.5],[3,4.5]]}'


def test_series_and_nan_output():
    response = PandasDataFrame().to_response(pd.Series([1.0, float("nan")], name="x"))
    assert response.body == b'[{"x":1.0},{"x":null}]'


def test_openapi_lists_columns():
    schema = PandasDataFrame(columns=["a", "b"]).openapi_request_body()["application/json"]["schema"]
    assert schema["items"]["required"] == ["a", "b"]
    assert "text/csv" in PandasDataFrame().openapi_request_body()


def test_orient_is_checked():
    with pytest.raises(ValueError):
        PandasDataFrame(orient="sideways")  # type: ignore[arg-type]
