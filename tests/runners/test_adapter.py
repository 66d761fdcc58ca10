"""runners.adapter: what every framework module shares, checked with a small framework of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runners.adapter import Adapter, LoadOptions, ModelRunnable
from runners.hardware import cpu_share
from runners.store.model_store import ModelStore, StoredModel, StoreError


class Polynomial:
    def __init__(self, coefficients: list[float]) -> None:
        self.coefficients = coefficients

    def predict(self, x: Any) -> np.ndarray:
        return np.polyval(self.coefficients, np.asarray(x, dtype=float))


class PolynomialAdapter(Adapter):
    framework = "polynomial"
    display = "a polynomial"
    artifact = "coefficients.json"
    distributions = ("numpy", "no-such-distribution")
    devices = ("cpu", "cuda")

    def __init__(self) -> None:
        self.loads: list[LoadOptions] = []

    def check(self, model: Any) -> None:
        if not isinstance(model, Polynomial):
            raise TypeError("expected a Polynomial")

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        return {"predict": {"batchable": True}}

    def options(self, model: Any, *, degree_note: str = "", **rest: Any) -> dict[str, Any]:
        super().options(model, **rest)
        return {"degree": len(model.coefficients) - 1, "note": degree_note}

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        path.write_text(json.dumps(model.coefficients))

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        self.loads.append(load)
        return Polynomial(json.loads(self.read_bytes(stored)))

    def open(self, path: Path, **options: Any) -> Any:
        return Polynomial(json.loads(path.read_text()))

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        bound = super().bind(model, name, stored, load)
        return lambda x: bound(x) * 1.0


@pytest.fixture
def adapter() -> PolynomialAdapter:
    return PolynomialAdapter()


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def test_save_records_framework_signatures_options_libraries_and_metadata(
    adapter: PolynomialAdapter, store: ModelStore
) -> None:
    stored = adapter.save_model("poly", Polynomial([1, 0, 2]), metadata={"by": "test"}, store=store, degree_note="x")
    info = stored.info
    assert info.framework == "polynomial" and info.artifact == "coefficients.json"
    assert info.signatures["predict"].batchable and info.metadata == {"by": "test"}
    assert info.options == {"degree": 2, "note": "x"}
    assert set(info.libraries) == {"python", "numpy"}  # what is not installed is left out
    assert adapter.load_model("poly", store=store).coefficients == [1, 0, 2]


def test_what_cannot_be_saved_is_refused_before_anything_is_written(
    adapter: PolynomialAdapter, store: ModelStore
) -> None:
    with pytest.raises(TypeError, match="Polynomial"):
        adapter.save_model("bad", object(), store=store)
    with pytest.raises(ValueError, match="no method transform"):
        adapter.save_model("bad", Polynomial([1]), signatures={"transform": {}}, store=store)
    with pytest.raises(TypeError, match="unexpected options: colour"):
        adapter.save_model("bad", Polynomial([1]), store=store, colour="red")
    assert store.models() == []


def test_models_of_other_frameworks_are_not_this_adapters(adapter: PolynomialAdapter, store: ModelStore) -> None:
    store.create("other", framework="sklearn", artifact="m", write=lambda p: p.write_bytes(b"x"), signatures={})
    with pytest.raises(StoreError, match="is a 'sklearn' model, not a polynomial one"):
        adapter.get("other", store=store)
    with pytest.raises(StoreError, match="not a polynomial one"):
        adapter.load_model(store.get("other"))


def test_load_options_default_to_the_cpu_share_and_the_cpu(adapter: PolynomialAdapter, store: ModelStore) -> None:
    adapter.save_model("poly", Polynomial([2, 1]), store=store)
    adapter.load_model("poly", store=store)
    adapter.load_model("poly", store=store, threads=3, device="cuda:1")
    default, chosen = adapter.loads
    assert (default.thread_count, default.device, default.cuda_index) == (cpu_share(), "cpu", None)
    assert (chosen.thread_count, chosen.device, chosen.cuda_index) == (3, "cuda:1", 1)
    assert LoadOptions(device="cuda").cuda_index == 0
    with pytest.raises(ValueError, match="device must be"):
        adapter.load_model("poly", store=store, device="gpu")
    adapter.devices = ("cpu",)
    with pytest.raises(ValueError, match="runs on the CPU"):
        adapter.load_model("poly", store=store, device="cuda")


def test_the_runnable_has_one_method_per_signature(adapter: PolynomialAdapter, store: ModelStore) -> None:
    stored = adapter.save_model("poly", Polynomial([1, 1]), store=store, signatures={"predict": {"batch_dim": 1}})
    runnable = adapter.runnable_for(stored)
    assert issubclass(runnable, ModelRunnable) and runnable.ADAPTER is adapter
    assert runnable.__name__ == "ModelRunnable_poly" and runnable.THREAD_AFFINE
    assert runnable.exposed_methods()["predict"].batch_dim == (1, 1)
    instance: Any = runnable(tag=str(stored.tag), store=str(store.root), threads=2)  # type: ignore[call-arg]
    assert instance.predict([1.0, 2.0]).tolist() == [2.0, 3.0]
    assert adapter.loads[-1].threads == 2


def test_import_a_file(adapter: PolynomialAdapter, store: ModelStore, tmp_path: Path) -> None:
    (tmp_path / "line.json").write_text("[3, 0]")
    imported = adapter.import_model("line", tmp_path / "line.json", store=store, metadata={"k": 1})
    assert imported.metadata == {"imported_from": "line.json", "k": 1}
    assert adapter.load_model(imported).predict([2]).tolist() == [6.0]
    with pytest.raises(StoreError, match="no such file"):
        adapter.import_model("gone", tmp_path / "gone.json", store=store)
