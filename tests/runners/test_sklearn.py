import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

import runners
from runners.runnable import MethodConfig
from runners.sklearn import UntrustedArtifact, is_trusted
from runners.store.model_store import ModelCorrupted, ModelStore, StoreError

PROBE = np.array([[5.9, 3.0, 5.1, 1.8]])


class Sneaky:
    """Not on the allow-list: a model needing it must never be loaded."""


@pytest.fixture(scope="module")
def iris_svc() -> SVC:
    x, y = load_iris(return_X_y=True)
    return SVC(gamma="scale").fit(x, y)


def test_save_get_load_round_trip(tmp_path: Path, iris_svc: SVC) -> None:
    store = ModelStore(tmp_path)
    saved = runners.sklearn.save_model("iris", iris_svc, store=store, metadata={"acc": 0.98})
    assert str(saved.tag) == f"iris:{saved.tag.version}"
    model = runners.sklearn.get("iris:latest", store=store)
    assert model.tag == saved.tag and model.info.framework == "sklearn"
    assert model.info.signatures == {"predict": MethodConfig.make(True, 0)}
    assert {"python", "scikit-learn", "skops", "numpy"} <= set(model.info.libraries)
    assert model.metadata == {"acc": 0.98}
    loaded = runners.sklearn.load_model(model.tag, store=store)
    assert loaded.predict(PROBE).tolist() == [2]
    assert runners.sklearn.load_model(model).predict(PROBE).tolist() == [2]


def test_signatures_name_the_exposed_methods(tmp_path: Path, iris_svc: SVC, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=500).fit(x, y)
    monkeypatch.setenv("TIFFIN_HOME", str(tmp_path))
    store = ModelStore.default()
    signatures: dict[str, dict[str, Any]] = {
        "predict": {"batchable": True},
        "predict_proba": {"batchable": True, "batch_dim": 0},
    }
    model = runners.sklearn.save_model("lr", clf, signatures=signatures, store=store)
    runnable = runners.sklearn.runnable_for(model)
    assert set(runnable.exposed_methods()) == {"predict", "predict_proba"}
    instance: Any = runnable(tag=str(model.tag))  # type: ignore[call-arg]
    assert instance.predict_proba(PROBE).shape == (1, 3)
    with pytest.raises(ValueError, match="no method"):
        runners.sklearn.save_model("bad", iris_svc, signatures={"transform": {}}, store=store)


def test_get_refuses_other_frameworks(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    store.create("other", framework="torch", artifact="m.pt", write=lambda p: p.write_bytes(b"x"), signatures={})
    with pytest.raises(StoreError, match="not a scikit-learn"):
        runners.sklearn.get("other", store=store)


def test_a_tampered_artifact_is_refused(tmp_path: Path, iris_svc: SVC) -> None:
    store = ModelStore(tmp_path)
    model = runners.sklearn.save_model("iris", iris_svc, store=store)
    data = bytearray(model.artifact_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.artifact_path.write_bytes(bytes(data))
    with pytest.raises(ModelCorrupted, match="checksum"):
        runners.sklearn.load_model("iris", store=store)


def test_types_outside_the_allow_list_are_refused_whatever_the_metadata_says(tmp_path: Path, iris_svc: SVC) -> None:
    store = ModelStore(tmp_path)
    sneaky = SVC(gamma="scale").fit(*load_iris(return_X_y=True))
    sneaky.extra = Sneaky()  # type: ignore[attr-defined]
    with pytest.raises(UntrustedArtifact, match="Sneaky"):
        runners.sklearn.save_model("sneaky", sneaky, store=store)

    # A crafted model directory: a valid checksum does not make the types trusted.
    model = runners.sklearn.save_model("iris", iris_svc, store=store)
    data = skops.io.dumps(sneaky)
    model.artifact_path.write_bytes(data)
    meta = json.loads((model.path / "model.json").read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    (model.path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(UntrustedArtifact, match="Sneaky"):
        runners.sklearn.load_model("iris", store=store)


def test_allow_list() -> None:
    assert is_trusted("sklearn.tree._tree.Tree")
    assert is_trusted("numpy.random.mtrand.RandomState")
    assert not is_trusted("builtins.eval")
    assert not is_trusted("os.system")
    assert not is_trusted("sklearnx.Evil")


def test_import_a_skops_file(tmp_path: Path, iris_svc: SVC) -> None:
    path = tmp_path / "my_iris.skops"
    skops.io.dump(iris_svc, path)
    model = runners.sklearn.import_file(path, store=ModelStore(tmp_path / "store"))
    assert model.tag.name == "my_iris"
    assert runners.sklearn.load_model(model).predict(PROBE).tolist() == [2]
