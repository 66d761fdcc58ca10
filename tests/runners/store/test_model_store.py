from pathlib import Path

import pytest

from runners.runnable import MethodConfig
from runners.store.model_store import ModelCorrupted, ModelNotFound, ModelStore, StoredModel, StoreError, home

SIGNATURES = {"predict": MethodConfig.make(True, 0)}


def add(store: ModelStore, name: str = "m", data: bytes = b"weights") -> StoredModel:
    return store.create(
        name,
        framework="test",
        artifact="model.bin",
        write=lambda path: path.write_bytes(data),
        signatures=SIGNATURES,
        libraries={"numpy": "2"},
        metadata={"note": "hi"},
    )


def test_home_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIFFIN_HOME", str(tmp_path))
    assert home() == tmp_path
    assert ModelStore.default().root == tmp_path / "models"


def test_create_writes_metadata_and_artifact_and_points_latest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first, second = add(store, data=b"one"), add(store, data=b"two")
    assert second.path == tmp_path / "m" / str(second.tag.version)
    assert second.artifact_path.read_bytes() == b"two"
    assert (second.path / "model.json").is_file()
    assert store.get("m").tag == second.tag
    assert store.get("m:latest").tag == second.tag
    assert store.get(str(first.tag)).tag == first.tag
    info = second.info
    assert info.framework == "test" and info.signatures == SIGNATURES and info.metadata == {"note": "hi"}
    assert info.size == 3 and len(info.sha256) == 64 and info.created.endswith("+00:00")
    assert [m.tag for m in store.models()] == [first.tag, second.tag]
    assert not list(tmp_path.glob("m/.tmp-*"))


def test_missing_models_are_not_found(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(ModelNotFound):
        store.get("nope")
    add(store)
    with pytest.raises(ModelNotFound):
        store.get("m:0000")
    assert store.models("other") == []


def test_delete_moves_latest_to_the_newest_remaining(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first, second = add(store), add(store)
    assert store.delete("m:latest").tag == second.tag
    assert store.get("m").tag == first.tag
    store.delete(str(first.tag))
    assert store.models() == []
    assert not (tmp_path / "m").exists()


def test_a_tampered_artifact_fails_verification(tmp_path: Path) -> None:
    model = add(ModelStore(tmp_path))
    assert model.verify() == model.artifact_path
    model.artifact_path.write_bytes(b"evil")
    with pytest.raises(ModelCorrupted, match="sha256"):
        model.verify()


def test_unreadable_metadata_is_reported(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    model = add(store)
    (model.path / "model.json").write_text("{not json")
    with pytest.raises(ModelCorrupted, match="metadata"):
        store.get(str(model.tag))


def test_metadata_cannot_point_the_artifact_outside_its_directory(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    model = add(store)
    text = (model.path / "model.json").read_text().replace('"model.bin"', '"../../../etc/passwd"')
    (model.path / "model.json").write_text(text)
    with pytest.raises(ModelCorrupted):
        store.get(str(model.tag))


def test_export_and_import_move_a_model_between_stores(tmp_path: Path) -> None:
    source, target = ModelStore(tmp_path / "a"), ModelStore(tmp_path / "b")
    model = add(source)
    exported = source.export(str(model.tag), tmp_path / "exported")
    imported = target.import_dir(exported)
    assert imported.tag == model.tag and imported.info == model.info
    assert target.get("m").tag == model.tag
    with pytest.raises(StoreError, match="already"):
        target.import_dir(exported)


def test_import_refuses_a_tampered_export(tmp_path: Path) -> None:
    source, target = ModelStore(tmp_path / "a"), ModelStore(tmp_path / "b")
    exported = source.export(str(add(source).tag), tmp_path / "exported")
    (exported / "model.bin").write_bytes(b"evil")
    with pytest.raises(ModelCorrupted):
        target.import_dir(exported)
    assert target.models() == []


def write_tree(path: Path) -> None:
    (path / "sub").mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "sub" / "weights.bin").write_bytes(b"\x00" * 10)


def add_directory(store: ModelStore) -> StoredModel:
    return store.create("d", framework="test", artifact="tree", write=write_tree, signatures=SIGNATURES)


def test_a_directory_artifact_records_every_file(tmp_path: Path) -> None:
    model = add_directory(ModelStore(tmp_path))
    assert model.is_directory and set(model.info.files) == {"config.json", "sub/weights.bin"}
    assert model.info.size == 12 and model.verify() == model.artifact_path
    again = ModelStore(tmp_path).get("d")
    assert again.info == model.info


@pytest.mark.parametrize(
    "tamper, named",
    [
        (lambda root: (root / "config.json").write_text('{"a": 1}'), "config.json"),
        (lambda root: (root / "sub" / "weights.bin").unlink(), "sub/weights.bin"),
        (lambda root: (root / "sub" / "extra.py").write_text("import os"), "sub/extra.py"),
    ],
)
def test_a_changed_added_or_removed_file_fails_verification(tmp_path: Path, tamper, named: str) -> None:  # type: ignore[no-untyped-def]
    model = add_directory(ModelStore(tmp_path))
    tamper(model.artifact_path)
    with pytest.raises(ModelCorrupted, match=named):
        model.verify()


def test_links_in_a_directory_artifact_are_refused(tmp_path: Path) -> None:
    model = add_directory(ModelStore(tmp_path))
    (model.artifact_path / "link.json").symlink_to("/etc/passwd")
    with pytest.raises(ModelCorrupted, match="link"):
        model.verify()

    def with_link(path: Path) -> None:
        write_tree(path)
        (path / "escape").symlink_to(tmp_path)

    with pytest.raises(ValueError, match="link"):
        ModelStore(tmp_path / "other").create(
            "l", framework="test", artifact="tree", write=with_link, signatures=SIGNATURES
        )
    assert ModelStore(tmp_path / "other").models() == []


def test_recorded_file_names_must_stay_inside_the_artifact(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    model = add_directory(store)
    meta = (model.path / "model.json").read_text().replace('"sub/weights.bin"', '"../../../etc/passwd"')
    (model.path / "model.json").write_text(meta)
    with pytest.raises(ModelCorrupted, match="relative paths"):
        store.get(str(model.tag))


def test_directory_artifacts_export_and_import(tmp_path: Path) -> None:
    source, target = ModelStore(tmp_path / "a"), ModelStore(tmp_path / "b")
    model = add_directory(source)
    exported = source.export(str(model.tag), tmp_path / "exported")
    assert (exported / "tree" / "sub" / "weights.bin").is_file()
    assert target.import_dir(exported).info == model.info
    (exported / "tree" / "config.json").write_text("evil")
    with pytest.raises(ModelCorrupted, match="config.json"):
        ModelStore(tmp_path / "c").import_dir(exported)
    assert ModelStore(tmp_path / "c").models() == []


def test_an_import_being_unpacked_in_a_dot_directory_is_never_listed(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    model = add(store)
    store.export(str(model.tag), tmp_path / "models" / ".import-x" / "m")  # as runners.models unpacks an archive
    assert [m.tag for m in store.models()] == [model.tag]
