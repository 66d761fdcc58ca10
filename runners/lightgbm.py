"""LightGBM models in LightGBM's own text model format (``model_to_string``), never pickle.

A ``Booster`` or a scikit-learn wrapper (``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``).
LightGBM's file holds the trees only, so for a wrapper ``model.json`` also records its class
(rebuilt from an allow-list), its JSON-able parameters and, for a classifier, its ``classes_``;
loading builds the wrapper around the parsed Booster the way ``fit`` leaves it. A model
trained with a custom (callable) objective cannot be stored: its predictions depend on Python
code the file cannot hold. Loading parses the text with LightGBM itself, from the bytes whose
checksum was verified. ``num_threads`` is the runner's thread count.
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

CLASSES = ("Booster", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")
_SCALARS = (str, int, float, bool, type(None))


class LightGBMAdapter(Adapter):
    framework = "lightgbm"
    display = "a LightGBM"
    artifact = "model.txt"
    distributions = ("lightgbm", "numpy", "scipy", "scikit-learn")
    thread_affine = False  # prediction is thread-safe

    def check(self, model: Any) -> None:
        import lightgbm

        if not (isinstance(model, lightgbm.Booster | lightgbm.LGBMModel) and type(model).__name__ in CLASSES):
            raise TypeError(f"expected a lightgbm.Booster or one of {', '.join(CLASSES[1:])}, not {type(model)!r}")
        if isinstance(model, lightgbm.LGBMModel):
            if not model.__sklearn_is_fitted__():
                raise ValueError(f"the {type(model).__name__} is not fitted")
            if callable(model.objective) or callable(getattr(model, "_objective", None)):
                raise TypeError("a model trained with a custom objective function cannot be stored safely")

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        return {"predict": {"batchable": True, "batch_dim": 0}}

    def options(self, model: Any, **save_options: Any) -> dict[str, Any]:
        no_more(save_options)
        import lightgbm

        if isinstance(model, lightgbm.Booster):
            return {"class": "Booster"}
        options: dict[str, Any] = {
            "class": type(model).__name__,
            "params": {k: v for k, v in model.get_params().items() if isinstance(v, _SCALARS)},
            "objective": model._objective,
            "n_features_in": int(model.n_features_in_),
            "fitted_with_feature_names": bool(model._fitted_with_feature_names),
            "best_iteration": int(model.best_iteration_),
        }
        if isinstance(model, lightgbm.LGBMClassifier):
            options["classes"] = model.classes_.tolist()
        return options

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        import lightgbm

        booster = model if isinstance(model, lightgbm.Booster) else model.booster_
        path.write_text(booster.model_to_string())

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        import lightgbm

        options = stored.info.options
        name = options.get("class", "Booster")
        if name not in CLASSES:
            raise UntrustedArtifact(f"model {stored.tag}: {name!r} is not a LightGBM model class tiffin rebuilds")
        text = self.read_bytes(stored).decode("utf-8", errors="replace")
        try:
            booster = lightgbm.Booster(model_str=text)
        except lightgbm.basic.LightGBMError as exc:
            raise ModelCorrupted(f"model {stored.tag}: not a readable LightGBM model: {exc}") from exc
        if name == "Booster":
            return booster
        try:
            return _wrapper(getattr(lightgbm, name), booster, options, load.thread_count)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelCorrupted(f"model {stored.tag}: cannot rebuild the {name}: {exc}") from exc

    def open(self, path: Path, **options: Any) -> Any:
        """A LightGBM text model file, as a Booster."""
        import lightgbm

        no_more(options)
        try:
            return lightgbm.Booster(model_file=str(path))
        except lightgbm.basic.LightGBMError as exc:
            raise StoreError(f"{path} is not a readable LightGBM model: {exc}") from exc

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        import lightgbm

        bound = super().bind(model, name, stored, load)
        if name != "predict" or not isinstance(model, lightgbm.Booster):
            return bound
        threads = load.thread_count

        def predict(data: Any, **kwargs: Any) -> Any:
            return bound(data, **{"num_threads": threads, **kwargs})

        return predict


def _wrapper(cls: Any, booster: Any, options: Mapping[str, Any], threads: int) -> Any:
    """The scikit-learn wrapper as ``fit`` leaves it, around the stored Booster."""
    import numpy as np
    from lightgbm.sklearn import _LGBMLabelEncoder

    model = cls(**{**options["params"], "n_jobs": threads})
    model._Booster = booster
    model._objective = options["objective"]
    model._n_features = booster.num_feature()
    model._n_features_in = int(options["n_features_in"])
    model._fitted_with_feature_names = bool(options["fitted_with_feature_names"])
    model._best_iteration = int(options.get("best_iteration", -1))
    if "classes" in options:
        encoder = _LGBMLabelEncoder().fit(np.asarray(options["classes"]))
        model._le = encoder
        model._classes = encoder.classes_
        model._n_classes = len(encoder.classes_)
        model._class_map = dict(zip(encoder.classes_, encoder.transform(encoder.classes_), strict=True))
    model.fitted_ = True
    return model


ADAPTER = LightGBMAdapter()


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
    """The Booster or the wrapper; a wrapper's ``n_jobs`` (a runner's ``num_threads``) is ``threads``."""
    return ADAPTER.load_model(tag, store=store, threads=threads)


def import_model(
    name: str,
    path: Path | str,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store a LightGBM text model file (``model.save_model("model.txt")``) as a Booster."""
    return ADAPTER.import_model(name, path, signatures=signatures, metadata=metadata, store=store)


def runnable_for(model: StoredModel) -> type[Runnable]:
    return ADAPTER.runnable_for(model)
