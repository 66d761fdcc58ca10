"""scikit-learn models: save to and load from the model store with skops, never pickle.

Loading trusts only the types this module allows (``TRUSTED_PREFIXES``/``TRUSTED_TYPES``),
whatever the artifact or its metadata say: a file that needs any other type is refused before
anything in it is built. The artifact is read once, its checksum checked on those same bytes,
then loaded, so it cannot change between the check and the load.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import platform
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from runners.runnable import MethodConfig, Runnable, method
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel, StoreError
from runners.store.tag import Tag

FRAMEWORK = "sklearn"
ARTIFACT = "model.skops"

TRUSTED_PREFIXES = ("sklearn.",)
TRUSTED_TYPES = frozenset(
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.ma.core.MaskedArray",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random._mt19937.MT19937",
        "numpy.random.bit_generator.SeedSequence",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._coo.coo_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
        "scipy.sparse._coo.coo_array",
    }
)

DEFAULT_SIGNATURES: Mapping[str, Mapping[str, Any]] = {"predict": {"batchable": True, "batch_dim": 0}}


class UntrustedArtifact(StoreError):
    """The artifact needs types outside the allow-list; it is not loaded."""


def is_trusted(type_name: str) -> bool:
    return type_name in TRUSTED_TYPES or type_name.startswith(TRUSTED_PREFIXES)


@functools.cache
def _skops_io() -> ModuleType:
    """``skops.io``, imported without its default list of trusted estimators.

    skops builds that list from ``sklearn.utils.all_estimators()``, which imports every module
    of scikit-learn: half a second of a runner's start. We never lean on it: with it empty, the
    estimators an artifact holds count as untrusted by default and must pass ``is_trusted``
    like every other type, which is at least as strict.
    """
    import sklearn.utils

    real = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    try:
        return importlib.import_module("skops.io")
    finally:
        sklearn.utils.all_estimators = real


def _untrusted(data: bytes, origin: str) -> list[str]:
    """The non-default types the artifact needs, once all of them are on our allow-list."""
    skops_io = _skops_io()

    try:
        needed = skops_io.get_untrusted_types(data=data)
    except Exception as exc:
        raise ModelCorrupted(f"{origin} is not a readable skops file: {exc}") from exc
    refused = [name for name in needed if not is_trusted(name)]
    if refused:
        raise UntrustedArtifact(
            f"{origin} needs types that tiffin does not trust, so it is not loaded: {', '.join(sorted(refused))}"
        )
    return list(needed)


def _loads(data: bytes, origin: str) -> Any:
    trusted = _untrusted(data, origin)
    try:
        return _skops_io().loads(data, trusted=trusted)
    except Exception as exc:
        raise ModelCorrupted(f"{origin} could not be loaded: {exc}") from exc


def _signatures(model: Any, signatures: Mapping[str, Mapping[str, Any]] | None) -> dict[str, MethodConfig]:
    chosen = signatures or DEFAULT_SIGNATURES
    configs = {name: MethodConfig.from_dict(dict(options)) for name, options in chosen.items()}
    missing = [name for name in configs if not callable(getattr(model, name, None))]
    if missing:
        raise ValueError(f"{type(model).__name__} has no method {', '.join(missing)} named in signatures")
    return configs


def _libraries() -> dict[str, str]:
    from importlib.metadata import version

    found = {"python": platform.python_version()}
    for dist in ("scikit-learn", "skops", "numpy", "scipy"):
        with contextlib.suppress(Exception):
            found[dist] = version(dist)
    return found


def save_model(
    name: str,
    model: Any,
    *,
    signatures: Mapping[str, Mapping[str, Any]] | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store ``model`` as a new version of ``name``; its methods default to a batchable ``predict``."""
    configs = _signatures(model, signatures)
    data = _skops_io().dumps(model)
    _untrusted(data, f"model {name!r}")  # refuse now what could never be loaded back

    return (store or ModelStore.default()).create(
        name,
        framework=FRAMEWORK,
        artifact=ARTIFACT,
        write=lambda path: path.write_bytes(data),
        signatures=configs,
        libraries=_libraries(),
        metadata=dict(metadata or {}),
    )


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    model = (store or ModelStore.default()).get(tag)
    if model.info.framework != FRAMEWORK:
        raise StoreError(f"model {model.tag} is a {model.info.framework!r} model, not a scikit-learn one")
    return model


def load_model(tag: str | Tag | StoredModel, *, store: ModelStore | None = None) -> Any:
    """The estimator, after checking its checksum and that it needs only trusted types."""
    model = tag if isinstance(tag, StoredModel) else get(tag, store=store)
    try:
        data = model.artifact_path.read_bytes()
    except OSError as exc:
        raise ModelCorrupted(f"model {model.tag}: cannot read {model.artifact_path}: {exc}") from exc
    model.verify(data)
    return _loads(data, f"model {model.tag} ({model.artifact_path})")


def import_file(
    path: Path | str,
    name: str | None = None,
    *,
    signatures: Mapping[str, Mapping[str, Any]] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Add a ``.skops`` file to the store, after loading it with the same allow-list."""
    path = Path(path)
    data = path.read_bytes()
    estimator = _loads(data, str(path))
    configs = _signatures(estimator, signatures)
    return (store or ModelStore.default()).create(
        name or path.stem,
        framework=FRAMEWORK,
        artifact=ARTIFACT,
        write=lambda target: target.write_bytes(data),
        signatures=configs,
        libraries=_libraries(),
        metadata={"imported_from": path.name},
    )


class SklearnRunnable(Runnable):
    """Hosts one stored estimator; ``runnable_for`` adds one method per signature."""

    SUPPORTS_CPU_MULTI_THREADING = True
    THREAD_AFFINE = False  # estimators hold no thread-local state

    def __init__(self, tag: str, store: str | None = None) -> None:
        self.model = load_model(tag, store=ModelStore(store) if store else None)


def _calls(name: str) -> Any:
    def call(self: SklearnRunnable, value: Any) -> Any:
        return getattr(self.model, name)(value)

    call.__name__ = call.__qualname__ = name
    return call


def runnable_for(model: StoredModel) -> type[Runnable]:
    methods = {
        name: method(batchable=config.batchable, batch_dim=config.batch_dim)(_calls(name))
        for name, config in model.info.signatures.items()
    }
    return type(f"SklearnRunnable_{model.tag.name}", (SklearnRunnable,), methods)
