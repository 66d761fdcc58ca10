from __future__ import annotations

import io

import numpy as np
import orjson
import pandas as pd
import pytest

from app.io import PandasDataFrame
from app.server.http_errors import BadOutput

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


# -- BentoML 1.1's e2e requests ---------------------------------------------------------------


def doubled(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["col1"] = frame[["col1"]] * 2
    return out


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (pd.DataFrame([[101]], columns=["col1"]).to_json(orient="records"), "application/json"),
        (pd.DataFrame([[101]], columns=["col1"]).to_parquet(), "application/octet-stream"),
        (pd.DataFrame([[101]], columns=["col1"]).to_parquet(), "application/vnd.apache.parquet"),
        (pd.DataFrame([[101]], columns=["col1"]).to_csv(), "text/csv"),  # with its index column
    ],
    ids=["json", "parquet-as-bentoml-sends-it", "parquet", "csv"],
)
def test_bentoml_e2e_predict_dataframe(client_for, body, content_type):
    client = client_for(PandasDataFrame(dtype={"col1": "int64"}, orient="records"), doubled, PandasDataFrame())
    response = client.post("/", content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    assert response.content == b'[{"col1":202}]'
    assert client.seen[0]["col1"].dtype == "int64"


def test_parquet_keeps_dtypes_index_and_strings(client_for):
    frame = pd.DataFrame(
        {"n": [1, 2], "f": [0.5, None], "s": ["x", "héllo"], "c": pd.Categorical(["a", "b"])},
        index=pd.Index(["r1", "r2"], name="row"),
    )
    client = client_for(PandasDataFrame())
    response = client.post("/", content=frame.to_parquet(), headers={"content-type": "application/x-parquet"})
    assert response.status_code == 200
    pd.testing.assert_frame_equal(client.seen[0], frame)


def test_parquet_answer_when_accepted(client_for):
    client = client_for(PandasDataFrame())
    response = client.post("/", json=RECORDS, headers={"accept": "application/vnd.apache.parquet"})
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(response.content)), pd.DataFrame(RECORDS))
    response = client.post("/", json=RECORDS, headers={"accept": "application/octet-stream"})
    assert response.headers["content-type"] == "application/octet-stream"
    assert pd.read_parquet(io.BytesIO(response.content)).shape == (2, 2)


def test_default_format_parquet(client_for):
    client = client_for(PandasDataFrame(default_format="parquet"))
    body = pd.DataFrame(RECORDS).to_parquet()
    response = client.post("/", content=body)  # no content type: the default format
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert client.post("/", json=RECORDS, headers={"accept": "application/json"}).json() == RECORDS


def test_default_format_csv(client_for):
    response = client_for(PandasDataFrame(default_format="csv")).post("/", json=RECORDS)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.splitlines() == ["a,b", "1,2.5", "3,4.5"]


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/vnd.apache.parquet"])
def test_not_parquet_is_400(client_for, content_type):
    client = client_for(PandasDataFrame())
    for body in (b"", b"PAR1", b"hello world", b"PAR1" + b"\0" * 20 + b"PAR1"):
        response = client.post("/", content=body, headers={"content-type": content_type})
        assert response.status_code == 400, body
    truncated = pd.DataFrame(RECORDS).to_parquet()
    response = client.post("/", content=truncated[: len(truncated) // 2], headers={"content-type": content_type})
    assert response.status_code == 400
    assert client.post("/", json=RECORDS).status_code == 200


def test_apply_column_names_renames(client_for):
    client = client_for(PandasDataFrame(columns=["x", "y"], apply_column_names=True))
    assert client.post("/", json=RECORDS).json() == [{"x": 1, "y": 2.5}, {"x": 3, "y": 4.5}]
    assert client.post("/", json=[[1, 2]]).json() == [{"x": 1, "y": 2}]
    response = client.post("/", json=[[1, 2, 3]])
    assert response.status_code == 400
    assert response.json()["detail"]["expected_columns"] == ["x", "y"]


def test_enforce_shape_checks_rows_and_columns(client_for):
    client = client_for(PandasDataFrame(shape=(-1, 2), enforce_shape=True))
    assert client.post("/", json=RECORDS).status_code == 200
    response = client.post("/", json=[{"a": 1}])
    assert response.status_code == 400
    assert response.json()["detail"] == {"expected_shape": [-1, 2], "got_shape": [1, 1]}
    assert client_for(PandasDataFrame(shape=(5, 5))).post("/", json=RECORDS).status_code == 200  # not enforced


def test_enforce_dtype_refuses_lossy_casts(client_for):
    client = client_for(PandasDataFrame(dtype={"a": "int64"}, enforce_dtype=True))
    assert client.post("/", json=[{"a": 1.0}, {"a": 2.0}]).json() == [{"a": 1}, {"a": 2}]
    response = client.post("/", json=[{"a": 1.5}])
    assert response.status_code == 400
    assert response.json()["detail"]["columns"] == ["a"]
    assert client_for(PandasDataFrame(dtype={"a": "int64"})).post("/", json=[{"a": 1.5}]).json() == [{"a": 1}]


@pytest.mark.parametrize(
    ("orient", "body"),
    [
        ("index", {"0": {"a": 1, "b": 2.5}, "1": {"a": 3, "b": 4.5}}),
        ("values", [[1, 2.5], [3, 4.5]]),
        ("table", None),
    ],
)
def test_every_pandas_orient_reads_and_writes(client_for, orient, body):
    frame = pd.DataFrame(RECORDS)
    if body is None:
        body = orjson.loads(frame.to_json(orient="table"))
    columns = ["a", "b"] if orient == "values" else None
    client = client_for(PandasDataFrame(orient=orient, columns=columns))
    response = client.post("/", json=body)
    assert response.status_code == 200, response.text
    pd.testing.assert_frame_equal(client.seen[0].reset_index(drop=True), frame, check_index_type=False)
    default_index = {"index": False} if orient == "table" else {}  # a RangeIndex is left out, as in "split"
    assert response.json() == orjson.loads(client.seen[0].to_json(orient=orient, **default_index))


def test_output_is_held_to_the_declared_columns_and_dtypes():
    desc = PandasDataFrame(columns=["a", "b"], dtype={"a": "float32"})
    response = desc.to_response(pd.DataFrame({"b": [1], "a": [2], "extra": [3]}))
    assert response.body == b'[{"a":2.0,"b":1}]'
    with pytest.raises(BadOutput, match="lacks column b"):
        desc.to_response(pd.DataFrame({"a": [1]}))
    with pytest.raises(BadOutput, match="do not fit"):
        PandasDataFrame(dtype="int64").to_response(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(BadOutput, match="shape"):
        PandasDataFrame(shape=(1, 1), enforce_shape=True).to_response(pd.DataFrame(RECORDS))
    with pytest.raises(BadOutput, match="not a table"):
        PandasDataFrame().to_response(42)
    # Arrays and records are tables too.
    assert PandasDataFrame().to_response(np.array([[1, 2]])).body == b'[{"0":1,"1":2}]'


def test_from_sample_fixes_columns_dtypes_and_shape(client_for):
    sample = pd.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=["sl", "sw", "pl", "pw"])
    desc = PandasDataFrame.from_sample(sample)
    assert desc.columns == ["sl", "sw", "pl", "pw"]
    assert desc.dtype == {"sl": "float64", "sw": "float64", "pl": "float64", "pw": "float64"}
    assert desc.shape == (1, 4)
    assert desc.openapi_request_body()["application/json"]["example"] == [{"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2}]
    client = client_for(desc)
    response = client.post("/", json=[[5, 3, 1, 0], [6, 3, 5, 2]])  # list of lists: named by the sample
    assert response.status_code == 200
    assert client.seen[0]["sl"].dtype == "float64"
    assert client.post("/", json=[{"sl": 1}]).status_code == 400  # lacks columns


def test_from_sample_with_unnamed_columns_and_options():
    desc = PandasDataFrame.from_sample(np.array([[1, 2, 3]]), orient="split", enforce_shape=True, shape=(-1, 3))
    assert desc.columns == ["0", "1", "2"]
    assert desc.shape == (-1, 3)
    example = desc.openapi_request_body()["application/json"]["example"]
    assert example == {"columns": ["0", "1", "2"], "data": [[1, 2, 3]]}


def test_from_sample_reads_files(tmp_path):
    path = tmp_path / "sample.parquet"
    pd.DataFrame(RECORDS).to_parquet(path)
    assert PandasDataFrame.from_sample(str(path)).columns == ["a", "b"]
    csv = tmp_path / "sample.csv"
    pd.DataFrame(RECORDS).to_csv(csv, index=False)
    assert PandasDataFrame.from_sample(csv).dtype == {"a": "int64", "b": "float64"}


def test_openapi_lists_every_format():
    body = PandasDataFrame(dtype={"a": "int64", "s": "str"}).openapi_request_body()
    assert list(body) == [
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
        "application/x-parquet",
        "application/parquet",
        "application/octet-stream",
    ]
    properties = body["application/json"]["schema"]["items"]["properties"]
    assert properties == {"a": {"type": "integer"}, "s": {"type": "string"}}
    assert body["application/vnd.apache.parquet"]["schema"] == {"type": "string", "format": "binary"}
    assert list(PandasDataFrame(default_format="parquet").openapi_responses())[0] == "application/vnd.apache.parquet"


def test_construction_checks():
    with pytest.raises(ValueError):
        PandasDataFrame(apply_column_names=True)
    with pytest.raises(ValueError):
        PandasDataFrame(enforce_dtype=True)
    with pytest.raises(ValueError):
        PandasDataFrame(enforce_shape=True)
    with pytest.raises(ValueError):
        PandasDataFrame(default_format="xml")  # type: ignore[arg-type]


def test_from_sample_fills_what_enforcement_needs(client_for):
    desc = PandasDataFrame.from_sample(pd.DataFrame({"a": [1]}), enforce_dtype=True, enforce_shape=True)
    assert desc.dtype == {"a": "int64"} and desc.shape == (1, 1)
    renaming = PandasDataFrame.from_sample(pd.DataFrame({"x": [1], "y": [2]}), apply_column_names=True)
    assert client_for(renaming).post("/", json=[[5, 6]]).json() == [{"x": 5, "y": 6}]
