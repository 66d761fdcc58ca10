"""``scripts/train-iris`` (run once per session by the ``iris_models`` fixture, as users run it)."""

import os
import stat
from pathlib import Path

import pandas as pd

import runners

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train-iris"


def test_the_script_is_executable_with_a_python_shebang() -> None:
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.stat(SCRIPT).st_mode & stat.S_IXUSR


def test_it_saves_both_iris_models_and_prints_their_tags(iris_models: dict[str, str]) -> None:
    assert set(iris_models) == {"iris_clf", "iris_clf_with_feature_names"}
    for name, tag in iris_models.items():
        assert str(runners.sklearn.get(f"{name}:latest").tag) == tag


def test_the_models_predict_2_for_the_probe(iris_models: dict[str, str]) -> None:
    clf = runners.sklearn.load_model("iris_clf:latest")
    assert type(clf).__name__ == "SVC" and clf.gamma == "scale"
    assert clf.predict([[5.9, 3.0, 5.1, 1.8]]).tolist() == [2]
    named = runners.sklearn.load_model("iris_clf_with_feature_names:latest")
    columns = ["sepal_len", "sepal_width", "petal_len", "petal_width"]
    assert list(named.feature_names_in_) == columns
    assert named.predict(pd.DataFrame([[5.9, 3.0, 5.1, 1.8]], columns=columns)).tolist() == [2]


def test_the_store_is_readable_by_other_users(iris_models: dict[str, str]) -> None:
    model = runners.sklearn.get("iris_clf:latest")
    for path in (model.path, model.path / "model.json", model.artifact_path, model.path.parent / "latest"):
        assert os.stat(path).st_mode & stat.S_IROTH, path
