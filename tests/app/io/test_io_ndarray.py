from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from starlette.testclient import TestClient

from app import Service
from app.io import NumpyNdarray
from app.server.http_errors import BadInput, BadOutput


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_json_list_round_trips(client_for):
    client = client_for(NumpyNdarray())
    response = client.post("/", json=[[5.1, 3.5, 1.4, 0.2]])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [[5.1, 3.5, 1.4, 0.2]]
    assert client.seen[0].dtype == np.float64


def test_missing_content_type_is_read_as_json(client_for):
    client = client_for(NumpyNdarray())
    response = client.post("/", content=b"[1, 2, 3]")
    assert response.status_code == 200
    assert response.json() == [1, 2, 3]


def test_npy_body(client_for):
    client = client_for(NumpyNdarray(dtype="float32", shape=(-1, 4), enforce_dtype=True, enforce_shape=True))
    array = np.arange(8, dtype=np.float32).reshape(2, 4)
    response = client.post("/", content=npy(array), headers={"content-type": "application/x-npy"})
    assert response.status_code == 200
    assert response.json() == array.tolist()
    assert client.seen[0].dtype == np.float32
    assert client.seen[0].flags.writeable


def test_fortran_ordered_npy(client_for):
    client = client_for(NumpyNdarray())
    array = np.asfortranarray(np.arange(6).reshape(2, 3))
    response = client.post("/", content=npy(array), headers={"content-type": "application/x-npy"})
    assert response.json() == array.tolist()


def test_npy_response_when_accepted(client_for):
    client = client_for(NumpyNdarray())
    response = client.post("/", json=[[1, 2], [3, 4]], headers={"accept": "application/x-npy"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-npy"
    assert np.load(io.BytesIO(response.content), allow_pickle=False).tolist() == [[1, 2], [3, 4]]


def test_pickled_npy_is_refused_and_never_unpickled(client_for, monkeypatch):
    def no_unpickling(*args, **kwargs):
        raise AssertionError("the body was unpickled")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    client = client_for(NumpyNdarray())
    payload = npy(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    response = client.post("/", content=payload, headers={"content-type": "application/x-npy"})
    assert response.status_code == 400
    assert "objects" in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b"", b"not npy at all", b"\x93NUMPY\x01\x00\x10\x00{'descr': 'junk'}", npy(np.arange(4))[:-3]],
)
def test_broken_npy_is_bad_input(client_for, body):
    client = client_for(NumpyNdarray())
    response = client.post("/", content=body, headers={"content-type": "application/x-npy"})
    assert response.status_code == 400
    assert response.json()["error"]


def test_npz_is_not_taken_for_npy(client_for):
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(3))
    client = client_for(NumpyNdarray())
    response = client.post("/", content=buffer.getvalue(), headers={"content-type": "application/x-npy"})
    assert response.status_code == 400


def test_wrong_content_type_is_415(client_for):
    client = client_for(NumpyNdarray())
    response = client.post("/", content=b"1,2,3", headers={"content-type": "text/csv"})
    assert response.status_code == 415
    assert response.json()["detail"]["accepted"] == ["application/json", "application/x-npy"]


@pytest.mark.parametrize("body", [b"[1, 2", b"{'a': 1}", b"[NaN]"])
def test_malformed_json_is_400(client_for, body):
    client = client_for(NumpyNdarray())
    response = client.post("/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "The request body is not valid JSON."


@pytest.mark.parametrize(
    "value",
    [[[1, 2], [3]], [1, None], [{"a": 1}], [[1, 2], "ab"]],
    ids=["ragged", "null", "object", "mixed-depth"],
)
def test_non_rectangular_json_is_400(client_for, value):
    response = client_for(NumpyNdarray()).post("/", json=value)
    assert response.status_code == 400


def test_strings_in_numeric_array_are_400(client_for):
    response = client_for(NumpyNdarray(dtype="float64")).post("/", json=["1.5", "x"])
    assert response.status_code == 400
    assert response.json()["detail"]["expected_dtype"] == "float64"


def test_cast_without_enforcement(client_for):
    client = client_for(NumpyNdarray(dtype="float32"))
    assert client.post("/", json=[1, 2]).json() == [1.0, 2.0]
    assert client.seen[-1].dtype == np.float32
    client = client_for(NumpyNdarray(dtype="int64"))
    assert client.post("/", json=[1.7, 2.2]).json() == [1, 2]


def test_cast_never_wraps_around(client_for):
    response = client_for(NumpyNdarray(dtype="int8")).post("/", json=[1, 300])
    assert response.status_code == 400


def test_enforced_dtype(client_for):
    client = client_for(NumpyNdarray(dtype="int64", enforce_dtype=True))
    assert client.post("/", json=[1, 2]).status_code == 200
    assert client.post("/", json=[1.0, 2.0]).status_code == 200  # JSON numbers that are integral
    response = client.post("/", json=[1.5])
    assert response.status_code == 400
    assert response.json()["detail"] == {"expected_dtype": "int64", "got_dtype": "float64"}

    floats = client_for(NumpyNdarray(dtype="float32", enforce_dtype=True))
    assert floats.post("/", json=[1, 0.1]).status_code == 200
    assert floats.post("/", json=[True]).status_code == 200
    assert floats.post("/", json=["a"]).status_code == 400


def test_enforced_dtype_on_npy_uses_safe_casting(client_for):
    client = client_for(NumpyNdarray(dtype="float32", enforce_dtype=True))
    headers = {"content-type": "application/x-npy"}
    assert client.post("/", content=npy(np.arange(3, dtype=np.int8)), headers=headers).status_code == 200
    assert client.post("/", content=npy(np.arange(3, dtype=np.float64)), headers=headers).status_code == 400
    lenient = client_for(NumpyNdarray(dtype="float32"))
    assert lenient.post("/", content=npy(np.arange(3, dtype=np.float64)), headers=headers).status_code == 200
    assert lenient.seen[-1].dtype == np.float32


def test_enforced_shape_with_wildcard(client_for):
    client = client_for(NumpyNdarray(shape=(-1, 4), enforce_shape=True))
    assert client.post("/", json=[[1, 2, 3, 4], [5, 6, 7, 8]]).status_code == 200
    response = client.post("/", json=[[1, 2, 3]])
    assert response.status_code == 400
    assert response.json()["detail"] == {"expected_shape": [-1, 4], "got_shape": [1, 3]}
    assert client.post("/", json=[1, 2, 3, 4]).status_code == 400


def test_unenforced_shape_reshapes_when_it_can(client_for):
    client = client_for(NumpyNdarray(shape=(-1, 4)))
    assert client.post("/", json=[1, 2, 3, 4]).json() == [[1, 2, 3, 4]]
    assert client.post("/", json=[1, 2, 3]).json() == [1, 2, 3]


def test_next_request_after_bad_input_still_works(client_for):
    client = client_for(NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True))
    assert client.post("/", content=b"[[1, 2", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/", json=[[1, 2]]).status_code == 400
    response = client.post("/", json=[[5.1, 3.5, 1.4, 0.2]])
    assert response.status_code == 200
    assert response.json() == [[5.1, 3.5, 1.4, 0.2]]


def test_output_of_non_contiguous_and_scalar_values(client_for):
    client = client_for(NumpyNdarray(), handler=lambda a: a.T[::2])
    assert client.post("/", json=[[1, 2, 3], [4, 5, 6]]).json() == [[1, 4], [3, 6]]
    client = client_for(NumpyNdarray(), handler=lambda a: a.sum())
    assert client.post("/", json=[1, 2]).json() == 3


def test_openapi_schema_follows_dtype_and_shape():
    desc = NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True)
    schema = desc.openapi_request_body()["application/json"]["schema"]
    assert schema == {
        "type": "array",
        "minItems": 1,  # [] has no rows of 4 to numpy: shape [0], refused
        "items": {"type": "array", "items": {"type": ["number", "boolean"]}, "minItems": 4, "maxItems": 4},
    }
    assert "application/x-npy" in desc.openapi_request_body()
    answer = NumpyNdarray().openapi_responses()["application/json"]["schema"]
    assert set(answer["type"]) == {"array", "number", "boolean", "string", "null"}  # 0-d; NaN is null
    assert "application/x-npy" in NumpyNdarray().openapi_responses()  # answered when Accept asks for it


# Found by schemathesis (reliability/schema.py): the documented schema let through what the
# descriptor refuses ([] for rows of 4, [null, null]) and refused what it takes ([[false, 0, 0, 0]],
# [1, 2, 3] under an unenforced shape). Each declaration's schema now admits exactly its inputs.
DECLARATIONS = [
    {},
    {"dtype": "float64", "shape": (-1, 4), "enforce_shape": True},
    {"dtype": "float64", "shape": (-1, 4)},
    {"dtype": "float32", "enforce_dtype": True},
    {"dtype": "float16"},
    {"dtype": "int8"},
    {"dtype": "int64", "enforce_dtype": True, "shape": (2,), "enforce_shape": True},
    {"dtype": "uint8", "enforce_dtype": True},
    {"dtype": "bool"},
    {"dtype": "bool", "enforce_dtype": True},
    {"dtype": "<U4", "enforce_dtype": True},
    {"dtype": "str"},
    {"shape": (-1, -1, 2), "enforce_shape": True},
]
VALUES = [
    [], [[]], [[], []], [1, 2], [1.5, -2], [True, False], ["a", "b"], ["abcdef"], [1, "a"], [None], [{}],
    [[1, 2], [3, 4]], [[1, 2, 3, 4]], [[False, 0, 0, 0]], [[1, 2, 3, 4], [5, 6, 7, 8]], [[[1, 2]]], [[[1, 2], [3, 4]]], [300, -1], [1e300], [70000.0], [2**63 - 1], [1.0, 2.0],
    [[[[1]]]], [[["x"]]], 5, "x", None, {"a": 1},
]  # fmt: skip


@pytest.mark.parametrize("options", DECLARATIONS, ids=str)
def test_documented_schema_admits_exactly_what_is_accepted(options):
    jsonschema = pytest.importorskip("jsonschema")
    desc = NumpyNdarray(**options)
    validator = jsonschema.Draft202012Validator(desc.openapi_request_body()["application/json"]["schema"])
    for value in VALUES:
        if not options.get("enforce_shape") and _depth(value) > 2:
            continue  # an undeclared nesting is described two levels deep; deeper arrays are any arrays
        try:
            desc.from_json_value(value)
            accepted = True
        except BadInput:
            accepted = False
        assert validator.is_valid(value) == accepted, (options, value, accepted)
    for ragged in ([[1], [2, 3]], [1, [2]]):  # refused; JSON Schema cannot say "rectangular" without a shape
        with pytest.raises(BadInput):
            desc.from_json_value(ragged)
        if options.get("enforce_shape"):
            assert not validator.is_valid(ragged)


def _depth(value):
    return 1 + max(map(_depth, value), default=0) if isinstance(value, list) else 0


def test_an_empty_array_fits_any_enforced_dtype(client_for):
    for dtype in ("bool", "<U4", "int8", "float32"):
        client = client_for(NumpyNdarray(dtype=dtype, enforce_dtype=True))
        assert client.post("/", json=[]).status_code == 200, dtype
        assert client.seen[-1].dtype == np.dtype(dtype)


def test_non_finite_answers_are_null_and_documented_so(client_for):
    # Found by schemathesis: values * 2 overflowed to inf, answered as null, which the schema refused.
    client = client_for(NumpyNdarray(dtype="float64"), handler=lambda a: np.where(a > 1, np.inf, a))
    assert client.post("/", json=[1e308, 0]).json() == [None, 0.0]
    jsonschema = pytest.importorskip("jsonschema")
    answer = NumpyNdarray(dtype="float64").openapi_responses()["application/json"]["schema"]
    assert jsonschema.Draft202012Validator(answer).is_valid([None, 0.0])
    assert "null" not in str(NumpyNdarray(dtype="int64").openapi_responses())


def test_a_json_scalar_is_not_an_array(client_for):
    response = client_for(NumpyNdarray()).post("/", json=5)
    assert response.status_code == 400
    assert "not an array" in response.json()["error"]


# -- BentoML 1.1's e2e requests, and outputs held to what they declare --------------------------


def test_bentoml_e2e_enforce_shape(client_for):
    client = client_for(NumpyNdarray(shape=(2, 2), enforce_shape=True), lambda a: a * 2, NumpyNdarray(shape=(2, 2)))
    response = client.post("/", content=b"[[1,2],[3,4]]", headers={"content-type": "application/json"})
    assert response.content == b"[[2, 4], [6, 8]]"  # byte for byte as BentoML writes it
    assert client.post("/", content=b"[1,2,3,4]", headers={"content-type": "application/json"}).status_code == 400


def test_bentoml_e2e_enforce_dtype_and_string_output(client_for):
    client = client_for(NumpyNdarray(dtype="uint8", enforce_dtype=True), lambda a: a * 2, NumpyNdarray(dtype="str"))
    response = client.post("/", content=b"[[2,1],[4,3]]", headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.content == b'[["4", "2"], ["8", "6"]]'
    assert client.seen[0].dtype == np.uint8
    bad = client.post("/", content=b'[["2f",1],[4,3]]', headers={"content-type": "application/json"})
    assert bad.status_code == 400


def test_output_dtype_is_cast_and_shape_reshaped_when_not_enforced():
    response = NumpyNdarray(dtype="float32", shape=(2, 2)).to_response(np.arange(4))
    assert response.body == b"[[0.0, 1.0], [2.0, 3.0]]"


def test_output_that_breaks_an_enforced_declaration_is_the_apis_fault():
    with pytest.raises(BadOutput, match="shape"):
        NumpyNdarray(shape=(2, 2), enforce_shape=True).to_response(np.arange(3))
    with pytest.raises(BadOutput, match="cannot be used as int64"):
        NumpyNdarray(dtype="int64", enforce_dtype=True).to_response(np.array([1.5]))
    with pytest.raises(BadOutput, match="strings"):
        NumpyNdarray(dtype="float64").to_response(np.array(["a"]))
    with pytest.raises(BadOutput, match="not an array"):
        NumpyNdarray().to_response([[1, 2], [3]])


def test_json_answers_for_every_kind():
    assert NumpyNdarray().to_response(np.array([True, False])).body == b"[true, false]"
    assert NumpyNdarray().to_response(np.array([0.5, np.nan])).body == b"[0.5, null]"
    assert NumpyNdarray().to_response(np.float16([1.5])).body == b"[1.5]"
    assert NumpyNdarray().to_response(np.array(["é, ok"])).body == '["é, ok"]'.encode()
    assert NumpyNdarray().to_response(np.int64(7)).body == b"7"


def test_from_sample_fixes_dtype_and_shape_and_documents_the_example(client_for):
    desc = NumpyNdarray.from_sample(np.array([[5.1, 3.5, 1.4, 0.2]]), enforce_shape=True)
    assert desc.dtype == np.float64 and desc.shape == (1, 4)
    assert desc.openapi_request_body()["application/json"]["example"] == [[5.1, 3.5, 1.4, 0.2]]
    assert "example" not in desc.openapi_request_body()["application/x-npy"]
    client = client_for(desc)
    assert client.post("/", json=[[1, 2, 3, 4]]).status_code == 200
    assert client.seen[0].dtype == np.float64
    assert client.post("/", json=[[1, 2, 3, 4], [5, 6, 7, 8]]).status_code == 400
    kept = NumpyNdarray.from_sample([[1, 2]], dtype="float32", shape=(-1, 2))
    assert kept.dtype == np.float32 and kept.shape == (-1, 2)
    with pytest.raises(ValueError):
        NumpyNdarray.from_sample(np.int64(3))
    with pytest.raises(ValueError):
        NumpyNdarray.from_sample([{"a": 1}])


@pytest.mark.parametrize("shape", ["(99999999999999999999999999999999, 0)", "(-1, -4)"])
def test_npy_header_with_a_shape_no_array_can_have_is_400(shape):
    # found by reliability.fuzz: a 500 with a plain-text body from the served API
    svc = Service("npy_shapes")

    @svc.api(input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True), output=NumpyNdarray())
    def classify(x):
        return x

    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    body = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + b"x" * 32
    with TestClient(svc.to_asgi(), raise_server_exceptions=False) as client:
        response = client.post("/classify", content=body, headers={"content-type": "application/x-npy"})
    assert response.status_code == 400
    assert "not a valid .npy" in response.json()["error"]
