"""``models list|get|delete|import`` through argparse, as the ``tiffin`` CLI registers them."""

import argparse
import json
from pathlib import Path

import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import runners
from runners.store.cli import add_commands


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tiffin")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture
def store_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIFFIN_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture(scope="module")
def tree() -> DecisionTreeClassifier:
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(*load_iris(return_X_y=True))


def test_list_get_delete(store_home: Path, tree: DecisionTreeClassifier, capsys: pytest.CaptureFixture[str]) -> None:
    first = runners.sklearn.save_model("tree", tree)
    second = runners.sklearn.save_model(
        "tree", tree, signatures={"predict": {"batchable": False}, "predict_proba": {"batchable": True}}
    )

    assert cli("models", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TAG", "FRAMEWORK", "METHODS", "SIZE", "CREATED"]
    assert str(first.tag) in lines[1] and "predict*" in lines[1]
    assert str(second.tag) in lines[2] and "predict,predict_proba*" in lines[2]

    assert cli("models", "list", "--json") == 0
    assert [m["tag"] for m in json.loads(capsys.readouterr().out)] == [str(first.tag), str(second.tag)]

    assert cli("models", "get", "tree") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["tag"] == str(second.tag) and shown["framework"] == "sklearn" and len(shown["sha256"]) == 64

    assert cli("models", "delete", "tree:latest") == 0
    assert capsys.readouterr().out.strip() == f"deleted {second.tag}"
    assert runners.models.get("tree").tag == first.tag


def test_errors_are_one_line_and_exit_1(store_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("models", "get", "missing") == 1
    assert capsys.readouterr().err.startswith("tiffin models: model missing:latest not found")
    assert cli("models", "delete", "bad/name") == 1
    assert "invalid model name" in capsys.readouterr().err
    assert cli("models", "import", str(store_home / "nothing.txt")) == 1


def test_import_a_skops_file_and_an_exported_directory(
    store_home: Path, tree: DecisionTreeClassifier, capsys: pytest.CaptureFixture[str]
) -> None:
    path = store_home / "my_tree.skops"
    skops.io.dump(tree, path)
    assert cli("models", "import", str(path)) == 0
    imported = runners.models.get("my_tree")
    assert capsys.readouterr().out.strip() == f"imported {imported.tag}"
    assert cli("models", "import", str(path), "--name", "renamed") == 0
    assert runners.sklearn.load_model("renamed").predict([[5.9, 3.0, 5.1, 1.8]]).tolist() == [2]

    exported = runners.models.export_model("renamed", store_home / "export")
    runners.models.delete("renamed")
    assert cli("models", "import", str(exported)) == 0
    assert runners.models.get("renamed").info.sha256 == imported.info.sha256


def test_list_shows_each_models_framework_and_import_takes_framework_files(
    store_home: Path, tree: DecisionTreeClassifier, capsys: pytest.CaptureFixture[str]
) -> None:
    import lightgbm
    import xgboost

    x, y = load_iris(return_X_y=True)
    runners.sklearn.save_model("sk", tree)
    xgb = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    runners.xgboost.save_model("xgb", xgb)
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lightgbm.Dataset(x, y), 3)
    booster.save_model(str(store_home / "trees.txt"))
    xgb.save_model(str(store_home / "boosted.json"))

    assert cli("models", "import", str(store_home / "trees.txt"), "--name", "lgb") == 0
    assert cli("models", "import", str(store_home / "boosted.json"), "--framework", "xgboost") == 0
    capsys.readouterr()
    assert cli("models", "list") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    frameworks = {tag.partition(":")[0]: framework for tag, framework, *_ in rows}
    assert frameworks == {"sk": "sklearn", "xgb": "xgboost", "lgb": "lightgbm", "boosted": "xgboost"}

    (store_home / "notes.txt").write_text("hello")
    assert cli("models", "import", str(store_home / "notes.txt")) == 1
    assert "cannot tell its framework" in capsys.readouterr().err
    assert cli("models", "import", str(store_home / "notes.txt"), "--framework", "lightgbm") == 1
    assert "not a readable LightGBM model" in capsys.readouterr().err
    assert cli("models", "import", str(store_home / "trees.txt"), "--task", "summarization") == 1
    assert "a task applies to a Transformers" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_export_to_an_archive_and_import_it_back(
    store_home: Path, tree: DecisionTreeClassifier, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    saved = runners.sklearn.save_model("arch", tree)
    archive = store_home / f"arch{suffix}"
    assert cli("models", "export", "arch", str(archive)) == 0
    assert capsys.readouterr().out.strip() == f"exported {saved.tag} to {archive}"
    runners.models.delete("arch")
    assert cli("models", "import", str(archive)) == 0
    assert runners.models.get("arch").info.sha256 == saved.info.sha256
    assert [m.tag.name for m in runners.models.list()] == ["arch"]  # the staging directory is gone, never listed
    store = store_home / "home" / "models"
    assert sorted(p.name for p in store.iterdir()) == ["arch"]


def test_import_refuses_an_archive_with_a_path_out_and_writes_nothing(
    store_home: Path, tree: DecisionTreeClassifier, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import tarfile

    exported = runners.models.export_model(runners.sklearn.save_model("bad", tree).tag, store_home / "bad")
    runners.models.delete("bad")
    archive = store_home / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as out:
        out.add(exported, arcname="bad")
        escape = tarfile.TarInfo("../escape.txt")
        escape.size = 1
        out.addfile(escape, io.BytesIO(b"x"))
    assert cli("models", "import", str(archive)) == 1
    assert "'../escape.txt' is not a plain relative path" in capsys.readouterr().err
    assert not (store_home / "home" / "escape.txt").exists()
    assert runners.models.list() == []
    assert [p.name for p in (store_home / "home" / "models").iterdir()] == []


@pytest.mark.parametrize("artifact", ["saved_model.pkl", "model.joblib", "model.pt"])
def test_import_refuses_an_exported_model_whose_artifact_is_a_pickle(
    store_home: Path, tree: DecisionTreeClassifier, capsys: pytest.CaptureFixture[str], artifact: str
) -> None:
    import hashlib
    import pickle

    exported = runners.models.export_model(runners.sklearn.save_model("pkl", tree).tag, store_home / "pkl")
    runners.models.delete("pkl")
    info = json.loads((exported / "model.json").read_text())
    data = pickle.dumps(tree)
    (exported / "model.skops").unlink()
    (exported / artifact).write_bytes(data)
    info.update(artifact=artifact, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (exported / "model.json").write_text(json.dumps(info))
    assert cli("models", "import", str(exported)) == 1
    assert f"artifact is 'model.skops', not {artifact!r}" in capsys.readouterr().err
    assert runners.models.list() == []
