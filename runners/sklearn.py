"""scikit-learn models: save to and load from the model store with skops, never pickle.

Loading trusts only the types this module allows (``TRUSTED_PREFIXES``/``TRUSTED_TYPES``),
whatever the artifact or its metadata say: a file that needs any other type is refused before
anything in it is built. The artifact is read once, its checksum checked on those same bytes,
then loaded, so it cannot change between the check and the load.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from runners.adapter import Adapter, LoadOptions, ModelRunnable, Signatures, UntrustedArtifact, no_more
from runners.runnable import Runnable
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel
from runners.store.tag import Tag

__all__ = [
    "ADAPTER",
    "SklearnRunnable",
    "UntrustedArtifact",
    "get",
    "import_file",
    "import_model",
    "is_trusted",
    "load_model",
    "runnable_for",
    "save_model",
]

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


class SklearnAdapter(Adapter):
    framework = FRAMEWORK
    display = "a scikit-learn"
    artifact = ARTIFACT
    distributions = ("scikit-learn", "skops", "numpy", "scipy")
    thread_affine = False  # estimators hold no thread-local state

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        return {name: dict(options) for name, options in DEFAULT_SIGNATURES.items()}

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        data = _skops_io().dumps(model)
        _untrusted(data, f"model {type(model).__name__}")  # refuse now what could never be loaded back
        path.write_bytes(data)

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        return _loads(self.read_bytes(stored), f"model {stored.tag} ({stored.artifact_path})")

    def import_model(
        self,
        name: str,
        path: Path | str,
        *,
        signatures: Signatures | None = None,
        metadata: Mapping[str, Any] | None = None,
        store: ModelStore | None = None,
        **options: Any,
    ) -> StoredModel:
        """The file itself goes into the store (same bytes, same checksum), once it loads with the allow-list."""
        no_more(options)
        path = Path(path)
        data = path.read_bytes()
        estimator = _loads(data, str(path))
        return (store or ModelStore.default()).create(
            name,
            framework=self.framework,
            artifact=self.artifact,
            write=lambda target: target.write_bytes(data),
            signatures=self.signatures(estimator, signatures),
            libraries=self.libraries(),
            metadata={"imported_from": path.name, **(metadata or {})},
        )


class SklearnRunnable(ModelRunnable):
    """Hosts one stored estimator; ``runnable_for`` adds one method per signature."""


SklearnAdapter.runnable_base = SklearnRunnable
ADAPTER = SklearnAdapter()


def save_model(
    name: str,
    model: Any,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store ``model`` as a new version of ``name``; its methods default to a batchable ``predict``."""
    return ADAPTER.save_model(name, model, signatures=signatures, metadata=metadata, store=store)


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return ADAPTER.get(tag, store=store)


def load_model(tag: str | Tag | StoredModel, *, store: ModelStore | None = None) -> Any:
    """The estimator, after checking its checksum and that it needs only trusted types."""
    return ADAPTER.load_model(tag, store=store)


def import_model(
    name: str,
    path: Path | str,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Add a ``.skops`` file to the store, after loading it with the same allow-list."""
    return ADAPTER.import_model(name, path, signatures=signatures, metadata=metadata, store=store)


def import_file(
    path: Path | str,
    name: str | None = None,
    *,
    signatures: Signatures | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """``import_model`` with the file first; the name defaults to the file's stem."""
    return import_model(name or Path(path).stem, path, signatures=signatures, store=store)


def runnable_for(model: StoredModel) -> type[Runnable]:
    return ADAPTER.runnable_for(model)
