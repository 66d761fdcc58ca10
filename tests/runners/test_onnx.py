"""runners.onnx: ModelProto graphs run with onnxruntime; external data and custom operators refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, Ridge

import runners
from runners.adapter import UntrustedArtifact
from runners.store.model_store import ModelCorrupted
from tests.runners.served import batches_run, post, post_concurrently, serve_model
from tests.runners.tamper import flip_byte, pickle_payload, replace_artifact

X, Y = load_iris(return_X_y=True)
X32 = X.astype(np.float32)


@pytest.fixture(scope="module")
def ridge() -> onnx.ModelProto:
    return to_onnx(Ridge().fit(X32, Y.astype(np.float32)), X32[:1], target_opset=17)


def scaled_sum(batch: int | str = "N") -> onnx.ModelProto:
    """y = a * 2 + b, with two named inputs: built with onnx.helper."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [batch, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [batch, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    nodes = [helper.make_node("Mul", ["a", "two"], ["scaled"]), helper.make_node("Add", ["scaled", "b"], ["y"])]
    graph = helper.make_graph(nodes, "scaled_sum", [a, b], [y], initializer=[two])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def session(model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_run_matches_onnxruntime_and_is_batchable_for_a_dynamic_batch(ridge: onnx.ModelProto) -> None:
    stored = runners.onnx.save_model("onnx_ridge", ridge)
    assert stored.info.signatures["run"].batchable and stored.info.options == {"inputs": ["X"], "outputs": ["variable"]}
    expected = session(ridge).run(None, {"X": X32})[0]
    instance = runners.onnx.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    assert np.array_equal(instance.run(X), expected)  # float64 in: cast to the graph's float
    loaded = runners.onnx.load_model(stored.tag, threads=1)
    assert isinstance(loaded, onnxruntime.InferenceSession)
    assert loaded.get_session_options().intra_op_num_threads == 1


def test_inputs_by_position_by_name_or_as_one_mapping() -> None:
    stored = runners.onnx.save_model("onnx_sum", scaled_sum())
    run = runners.onnx.runnable_for(stored)(tag=str(stored.tag)).run  # type: ignore[call-arg]
    a, b = np.ones((2, 4)), np.arange(8).reshape(2, 4)
    expected = a * 2 + b
    assert np.array_equal(run(a, b), expected)
    assert np.array_equal(run(b=b, a=a), expected)
    assert np.array_equal(run({"a": a.tolist(), "b": b.tolist()}), expected)
    with pytest.raises(TypeError, match="missing inputs"):
        run(a)
    with pytest.raises(TypeError, match="unknown or repeated"):
        run(a, a=a)
    assert not runners.onnx.save_model("onnx_fixed", scaled_sum(batch=2)).info.signatures["run"].batchable


def test_several_outputs_come_back_as_a_tuple() -> None:
    clf = LogisticRegression(max_iter=500).fit(X, Y)
    model = to_onnx(clf, X32[:1], options={"zipmap": False}, target_opset=17)
    stored = runners.onnx.save_model("onnx_clf", model)
    assert not stored.info.signatures["run"].batchable  # a tuple cannot be cut by rows on the wire
    labels, probabilities = runners.onnx.runnable_for(stored)(tag=str(stored.tag)).run(X)  # type: ignore[call-arg]
    assert np.array_equal(labels, clf.predict(X)) and probabilities.shape == (150, 3)


def test_only_run_is_a_method_and_only_model_protos_are_taken(ridge: onnx.ModelProto) -> None:
    with pytest.raises(ValueError, match="no method predict"):
        runners.onnx.save_model("onnx_bad", ridge, signatures={"predict": {}})
    with pytest.raises(TypeError, match="ModelProto"):
        runners.onnx.save_model("onnx_bad", b"bytes")


def with_external_data(path: Path) -> Path:
    """scaled_sum saved with its weights in a file beside the graph."""
    onnx.save_model(scaled_sum(), str(path), save_as_external_data=True, size_threshold=0, location="weights.bin")
    assert (path.parent / "weights.bin").is_file()
    return path


def test_external_data_and_custom_operators_are_refused(tmp_path: Path) -> None:
    external = with_external_data(tmp_path / "ext.onnx")
    assert onnx.load_model(str(external)).graph.initializer  # onnx itself follows the reference
    with pytest.raises(UntrustedArtifact, match="external files"):
        runners.onnx.import_model("onnx_ext", external)

    custom = scaled_sum()
    custom.graph.node[0].domain = "evil.ops"
    custom.opset_import.append(helper.make_opsetid("evil.ops", 1))
    with pytest.raises(UntrustedArtifact, match="custom domains"):
        runners.onnx.save_model("onnx_custom", custom)


def test_import_an_onnx_file(tmp_path: Path, ridge: onnx.ModelProto) -> None:
    onnx.save_model(ridge, str(tmp_path / "ridge.onnx"))
    imported = runners.models.import_model(tmp_path / "ridge.onnx", name="ridge_file")
    assert imported.info.framework == "onnx"
    loaded = runners.onnx.load_model(imported)
    assert np.array_equal(loaded.run(None, {"X": X32})[0], session(ridge).run(None, {"X": X32})[0])


def test_a_tampered_or_pickled_artifact_is_refused_and_nothing_runs(tmp_path: Path, ridge: onnx.ModelProto) -> None:
    stored = runners.onnx.save_model("onnx_tamper", ridge)
    flip_byte(stored)
    with pytest.raises(ModelCorrupted, match="checksum"):
        runners.onnx.load_model(stored.tag)
    marker = tmp_path / "executed"
    replace_artifact(stored, pickle_payload(marker))
    with pytest.raises(ModelCorrupted):
        runners.onnx.load_model(stored.tag)
    assert not marker.exists()

    # An artifact re-signed with external data in it is refused at load, before onnxruntime sees it.
    replace_artifact(stored, with_external_data(tmp_path / "ext.onnx").read_bytes())
    with pytest.raises(UntrustedArtifact, match="external files"):
        runners.onnx.load_model(stored.tag)


def test_served_from_yaml_naming_only_the_tag(tmp_path: Path, ridge: onnx.ModelProto) -> None:
    runners.onnx.save_model("onnx_served", ridge)
    expected = session(ridge).run(None, {"X": X32})[0]
    ndarray = {"type": "ndarray"}
    with serve_model(tmp_path, "onnx_served:latest", "run", input=ndarray, output=ndarray) as api:
        assert np.array_equal(np.asarray(post(api, X.tolist()), dtype=np.float32), expected)
        rows = list(range(0, 144, 3))
        answers = post_concurrently(f"{api}/predict", [[X[i].tolist()] for i in rows])
        got = np.asarray(answers, dtype=np.float32).reshape(len(rows), -1)
        # batched float math may differ from one big batch in the last bit (a GEMM's blocking)
        np.testing.assert_allclose(got, expected[rows], rtol=1e-6, atol=1e-6)
        assert batches_run(api, "onnx_served", "run") < 1 + len(rows)
