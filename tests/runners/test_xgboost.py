"""runners.xgboost: Boosters and scikit-learn wrappers in XGBoost's UBJSON format, never pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import runners
from runners.adapter import UntrustedArtifact
from runners.store.model_store import ModelCorrupted, StoreError
from tests.runners.served import batches_run, post, post_concurrently, serve_model
from tests.runners.tamper import edit_options, flip_byte, pickle_payload, replace_artifact

X, Y = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def classifier() -> xgboost.XGBClassifier:
    return xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(X, Y)


@pytest.fixture(scope="module")
def booster() -> xgboost.Booster:
    return xgboost.train({"objective": "reg:squarederror", "max_depth": 3}, xgboost.DMatrix(X, label=Y), 10)


def test_a_classifier_comes_back_as_its_class_with_its_classes(classifier: xgboost.XGBClassifier) -> None:
    stored = runners.xgboost.save_model("xgb_clf", classifier, metadata={"acc": 0.97})
    assert stored.info.framework == "xgboost" and stored.info.artifact == "model.ubj"
    assert stored.info.options == {"class": "XGBClassifier"}
    assert stored.info.signatures["predict"].batchable
    assert "xgboost-cpu" in stored.info.libraries or "xgboost" in stored.info.libraries
    loaded = runners.xgboost.load_model(stored.tag, threads=1)
    assert type(loaded) is xgboost.XGBClassifier
    assert loaded.classes_.tolist() == classifier.classes_.tolist() == [0, 1, 2]
    assert np.array_equal(loaded.predict(X), classifier.predict(X))
    assert np.array_equal(loaded.predict_proba(X), classifier.predict_proba(X))
    assert runners.xgboost.get("xgb_clf").metadata == {"acc": 0.97}


def test_a_booster_is_served_with_dmatrix_built_for_it(booster: xgboost.Booster) -> None:
    stored = runners.xgboost.save_model("xgb_booster", booster, signatures={"predict": {"batchable": True}})
    runnable = runners.xgboost.runnable_for(stored)
    assert runnable.exposed_methods()["predict"].batchable and not runnable.THREAD_AFFINE
    instance = runnable(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    assert np.array_equal(instance.predict(X), booster.predict(xgboost.DMatrix(X)))
    config = json.loads(instance.model.save_config())
    assert config["learner"]["generic_param"]["nthread"] == "1"


def test_import_a_model_file(tmp_path: Path, classifier: xgboost.XGBClassifier, booster: xgboost.Booster) -> None:
    booster.save_model(str(tmp_path / "reg.json"))
    imported = runners.models.import_model(tmp_path / "reg.json")  # told by its content: XGBoost JSON
    assert imported.tag.name == "reg" and imported.info.framework == "xgboost"
    assert np.array_equal(
        runners.xgboost.load_model(imported).predict(xgboost.DMatrix(X)), booster.predict(xgboost.DMatrix(X))
    )
    classifier.save_model(str(tmp_path / "clf.ubj"))
    wrapped = runners.xgboost.import_model("clf_file", tmp_path / "clf.ubj", model_class="XGBClassifier")
    assert np.array_equal(runners.xgboost.load_model(wrapped).predict(X), classifier.predict(X))
    with pytest.raises(StoreError, match="model_class"):
        runners.xgboost.import_model("bad", tmp_path / "clf.ubj", model_class="Evil")


def test_a_tampered_or_pickled_artifact_is_refused_and_nothing_runs(
    tmp_path: Path, classifier: xgboost.XGBClassifier
) -> None:
    stored = runners.xgboost.save_model("xgb_tamper", classifier)
    flip_byte(stored)
    with pytest.raises(ModelCorrupted, match="checksum"):
        runners.xgboost.load_model(stored.tag)

    marker = tmp_path / "executed"
    replace_artifact(stored, pickle_payload(marker))  # a valid checksum does not make a pickle loadable
    with pytest.raises(ModelCorrupted, match="not a readable XGBoost model"):
        runners.xgboost.load_model(stored.tag)
    assert not marker.exists()

    fresh = runners.xgboost.save_model("xgb_class", classifier)
    edit_options(fresh, **{"class": "os.system"})
    with pytest.raises(UntrustedArtifact, match="os.system"):
        runners.xgboost.load_model(fresh.tag)


def test_only_xgboost_models_are_taken_and_they_run_on_the_cpu(booster: xgboost.Booster) -> None:
    with pytest.raises(TypeError, match="xgboost.Booster"):
        runners.xgboost.save_model("nope", object())
    sklearn_model = runners.sklearn.save_model("sk_tree", DecisionTreeClassifier(max_depth=2).fit(X, Y))
    with pytest.raises(StoreError, match="not an XGBoost one"):
        runners.xgboost.get(str(sklearn_model.tag))
    stored = runners.xgboost.save_model("xgb_cpu", booster)
    with pytest.raises(ValueError, match="device 'cuda' is not supported"):
        runners.xgboost.ADAPTER.load_model(stored.tag, device="cuda")


def test_served_from_yaml_naming_only_the_tag(tmp_path: Path, classifier: xgboost.XGBClassifier) -> None:
    runners.xgboost.save_model("xgb_served", classifier)
    ndarray = {"type": "ndarray"}
    with serve_model(tmp_path, "xgb_served:latest", "predict", input=ndarray, output=ndarray) as api:
        assert post(api, X.tolist()) == classifier.predict(X).tolist()
        rows = X[::3][:48]
        answers = post_concurrently(f"{api}/predict", [[row.tolist()] for row in rows])
        assert answers == [[v] for v in classifier.predict(rows).tolist()]
        assert batches_run(api, "xgb_served", "predict") < 1 + len(rows)  # concurrent calls shared batches
