"""runners.lightgbm: Boosters and scikit-learn wrappers in LightGBM's text format, never pickle."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_regression

import runners
from runners.adapter import UntrustedArtifact
from runners.store.model_store import ModelCorrupted
from tests.runners.served import batches_run, post, post_concurrently, serve_model
from tests.runners.tamper import edit_options, flip_byte, pickle_payload, replace_artifact

X, Y = load_iris(return_X_y=True)
FEATURES = ["sepal_len", "sepal_width", "petal_len", "petal_width"]
SPECIES = np.array(["setosa", "versicolor", "virginica"])[Y]


@pytest.fixture(scope="module")
def classifier() -> lightgbm.LGBMClassifier:
    return lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, Y)


def test_a_classifier_with_string_labels_and_feature_names_comes_back_whole() -> None:
    frame = pd.DataFrame(X, columns=FEATURES)
    clf = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(frame, SPECIES)
    stored = runners.lightgbm.save_model("lgbm_species", clf)
    assert stored.info.artifact == "model.txt" and stored.info.options["classes"] == SPECIES[[0, 50, 100]].tolist()
    assert stored.artifact_path.read_text().startswith("tree")
    loaded = runners.lightgbm.load_model(stored.tag, threads=1)
    assert type(loaded) is lightgbm.LGBMClassifier and loaded.n_jobs == 1
    assert loaded.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert loaded.feature_names_in_.tolist() == FEATURES
    assert np.array_equal(loaded.predict(frame), clf.predict(frame))
    assert np.array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))


def test_a_regressor_and_a_booster() -> None:
    x, y = make_regression(200, 5, random_state=0)
    regressor = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1).fit(x, y)
    loaded = runners.lightgbm.load_model(runners.lightgbm.save_model("lgbm_reg", regressor).tag)
    assert np.array_equal(loaded.predict(x), regressor.predict(x))

    booster = lightgbm.train({"objective": "regression", "verbose": -1}, lightgbm.Dataset(x, y), 5)
    stored = runners.lightgbm.save_model("lgbm_booster", booster)
    instance = runners.lightgbm.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    assert isinstance(instance.model, lightgbm.Booster)
    assert np.array_equal(instance.predict(x), booster.predict(x))


def test_a_custom_objective_cannot_be_stored() -> None:
    def squared(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y_pred - y_true, np.ones_like(y_true)

    custom = lightgbm.LGBMRegressor(n_estimators=3, objective=squared, verbose=-1).fit(X, Y.astype(float))
    with pytest.raises(TypeError, match="custom objective"):
        runners.lightgbm.save_model("lgbm_custom", custom)


def test_import_a_text_model_file(tmp_path: Path, classifier: lightgbm.LGBMClassifier) -> None:
    classifier.booster_.save_model(str(tmp_path / "iris_lgbm.txt"))
    imported = runners.models.import_model(tmp_path / "iris_lgbm.txt")  # a .txt that starts with "tree"
    assert imported.info.framework == "lightgbm" and imported.info.options == {"class": "Booster"}
    booster = runners.lightgbm.load_model(imported)
    assert np.array_equal(booster.predict(X), classifier.predict_proba(X))


def test_a_tampered_or_pickled_artifact_is_refused_and_nothing_runs(
    tmp_path: Path, classifier: lightgbm.LGBMClassifier
) -> None:
    stored = runners.lightgbm.save_model("lgbm_tamper", classifier)
    flip_byte(stored)
    with pytest.raises(ModelCorrupted, match="checksum"):
        runners.lightgbm.load_model(stored.tag)

    marker = tmp_path / "executed"
    replace_artifact(stored, pickle_payload(marker))
    with pytest.raises(ModelCorrupted, match="not a readable LightGBM model"):
        runners.lightgbm.load_model(stored.tag)
    assert not marker.exists()

    fresh = runners.lightgbm.save_model("lgbm_class", classifier)
    edit_options(fresh, **{"class": "builtins.eval"})
    with pytest.raises(UntrustedArtifact, match="builtins.eval"):
        runners.lightgbm.load_model(fresh.tag)


def test_served_from_yaml_naming_only_the_tag(tmp_path: Path, classifier: lightgbm.LGBMClassifier) -> None:
    runners.lightgbm.save_model("lgbm_served", classifier)
    ndarray = {"type": "ndarray"}
    with serve_model(tmp_path, "lgbm_served:latest", "predict", input=ndarray, output=ndarray, threads=1) as api:
        assert post(api, X.tolist()) == classifier.predict(X).tolist()
        rows = X[1::3][:48]
        answers = post_concurrently(f"{api}/predict", [[row.tolist()] for row in rows])
        assert answers == [[v] for v in classifier.predict(rows).tolist()]
        assert batches_run(api, "lgbm_served", "predict") < 1 + len(rows)
