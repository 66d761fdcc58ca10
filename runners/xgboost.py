"""XGBoost models in XGBoost's own UBJSON model format (``save_model``), never pickle.

A ``Booster`` or one of the scikit-learn wrappers (``XGBClassifier``, ``XGBRegressor``,
``XGBRanker``, ``XGBRFClassifier``, ``XGBRFRegressor``): the wrapper's class is recorded and
rebuilt from an allow-list, and XGBoost's file keeps its scikit-learn attributes (``classes_``,
``n_classes_``). A Booster's ``predict`` takes what ``xgboost.DMatrix`` takes (arrays,
DataFrames); other Booster methods (``inplace_predict``) take their own arguments. Loading
parses the file with XGBoost itself, from the bytes whose checksum was verified; nothing in it
is executed. ``nthread`` is the runner's thread count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runners.adapter import Adapter, LoadOptions, Signatures, UntrustedArtifact, no_more
from runners.runnable import Runnable
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

__all__ = ["ADAPTER", "get", "import_model", "load_model", "runnable_for", "save_model"]

# The classes a stored model may be rebuilt as, by name; nothing else is ever instantiated.
CLASSES = ("Booster", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


class XGBoostAdapter(Adapter):
    framework = "xgboost"
    display = "an XGBoost"
    artifact = "model.ubj"
    distributions = ("xgboost", "xgboost-cpu", "numpy", "scipy")
    thread_affine = False  # prediction is thread-safe

    def check(self, model: Any) -> None:
        import xgboost

        if not (isinstance(model, xgboost.Booster | xgboost.XGBModel) and type(model).__name__ in CLASSES):
            raise TypeError(f"expected an xgboost.Booster or one of {', '.join(CLASSES[1:])}, not {type(model)!r}")

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        return {"predict": {"batchable": True, "batch_dim": 0}}

    def options(self, model: Any, **save_options: Any) -> dict[str, Any]:
        super().options(model, **save_options)
        return {"class": type(model).__name__}

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        model.save_model(str(path))  # the format follows the suffix: .ubj

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        import xgboost

        name = stored.info.options.get("class", "Booster")
        if name not in CLASSES:
            raise UntrustedArtifact(f"model {stored.tag}: {name!r} is not an XGBoost model class tiffin rebuilds")
        data = self.read_bytes(stored)
        model = getattr(xgboost, name)()
        try:
            model.load_model(bytearray(data))
        except xgboost.core.XGBoostError as exc:
            raise ModelCorrupted(f"model {stored.tag}: not a readable XGBoost model: {exc}") from exc
        if isinstance(model, xgboost.Booster):
            model.set_param({"nthread": load.thread_count})
        else:
            model.set_params(n_jobs=load.thread_count)
        return model

    def open(self, path: Path, **options: Any) -> Any:
        """An XGBoost model file (``.ubj``, ``.json``): as a Booster, or as ``model_class`` (a wrapper's name)."""
        import xgboost

        name = options.pop("model_class", "Booster")
        no_more(options)
        if name not in CLASSES:
            raise StoreError(f"model_class must be one of {', '.join(CLASSES)}, not {name!r}")
        model = getattr(xgboost, name)()
        try:
            model.load_model(str(path))
        except xgboost.core.XGBoostError as exc:
            raise StoreError(f"{path} is not a readable XGBoost model: {exc}") from exc
        return model

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        import xgboost

        if name == "predict" and isinstance(model, xgboost.Booster):

            def predict(data: Any, **kwargs: Any) -> Any:
                return model.predict(data if isinstance(data, xgboost.DMatrix) else xgboost.DMatrix(data), **kwargs)

            return predict
        return super().bind(model, name, stored, load)


ADAPTER = XGBoostAdapter()


def save_model(
    name: str,
    model: Any,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store a Booster or a scikit-learn wrapper; its methods default to a batchable ``predict``."""
    return ADAPTER.save_model(name, model, signatures=signatures, metadata=metadata, store=store)


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return ADAPTER.get(tag, store=store)


def load_model(
    tag: str | Tag | StoredModel, *, store: ModelStore | None = None, threads: int | None = None
) -> Any:
    """The Booster or wrapper, rebuilt from the verified model file; ``threads`` sets ``nthread``."""
    return ADAPTER.load_model(tag, store=store, threads=threads)


def import_model(
    name: str,
    path: Path | str,
    *,
    model_class: str = "Booster",
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store an XGBoost model file (``.ubj`` or ``.json``), loaded as ``model_class``."""
    return ADAPTER.import_model(
        name, path, signatures=signatures, metadata=metadata, store=store, model_class=model_class
    )


def runnable_for(model: StoredModel) -> type[Runnable]:
    return ADAPTER.runnable_for(model)
