"""The local model store: ``$TIFFIN_HOME/models/<name>/<version>/{model.json, <artifact>}``.

``model.json`` records the framework, the exposed methods (batchable or not, batch_dim), the
creation time, library versions, the adapter's own ``options`` (how to rebuild the model) and
the sha256 of the artifact; ``<name>/latest`` holds the version that ``name:latest`` means (the
one most recently saved or imported). Versions are written to a temporary directory and renamed
into place, so readers never see half a model. Framework adapters (``runners.sklearn``,
``runners.xgboost``, ...) write and read the artifacts; this module only files them.

The artifact is one file, or a directory of regular files (a Hugging Face model directory):
then ``files`` maps each file's relative path to its sha256, ``sha256`` is the digest of that
manifest, and verifying a model checks that the directory holds exactly those files, unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runners.runnable import MethodConfig
from runners.store.tag import LATEST, InvalidTag, Tag, new_version

if TYPE_CHECKING:
    from runners.runner import Runner

METADATA_FILE = "model.json"
_FORMAT = 1


class StoreError(Exception):
    """A problem with the model store or one of its models."""


class ModelNotFound(StoreError, LookupError):
    pass


class ModelCorrupted(StoreError):
    """The artifact does not match its recorded checksum, or the metadata is unreadable."""


def home() -> Path:
    return Path(os.environ.get("TIFFIN_HOME") or Path.home() / ".tiffin").expanduser()


@dataclass(frozen=True)
class ModelInfo:
    tag: Tag
    framework: str
    artifact: str
    sha256: str
    size: int
    signatures: dict[str, MethodConfig]
    created: str
    libraries: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # a directory artifact: relative path -> sha256

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"files": self.files} if self.files else {}
        return {
            "format": _FORMAT,
            "name": self.tag.name,
            "version": self.tag.version,
            "framework": self.framework,
            "artifact": self.artifact,
            "sha256": self.sha256,
            "size": self.size,
            "signatures": {k: v.to_dict() for k, v in self.signatures.items()},
            "created": self.created,
            "libraries": self.libraries,
            "metadata": self.metadata,
            "options": self.options,
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        artifact = str(data["artifact"])
        if Path(artifact).name != artifact or artifact.startswith("."):
            raise ValueError(f"artifact must be a plain file name, not {artifact!r}")
        return cls(
            tag=Tag(str(data["name"]), str(data["version"])),
            framework=str(data["framework"]),
            artifact=artifact,
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            signatures={str(k): MethodConfig.from_dict(v) for k, v in data["signatures"].items()},
            created=str(data["created"]),
            libraries={str(k): str(v) for k, v in data.get("libraries", {}).items()},
            metadata=dict(data.get("metadata") or {}),
            options=dict(data.get("options") or {}),
            files={_relative(str(k)): str(v) for k, v in (data.get("files") or {}).items()},
        )


def _relative(path: str) -> str:
    parts = Path(path).parts
    if not parts or Path(path).is_absolute() or any(p in ("..", ".") for p in parts) or "\\" in path:
        raise ValueError(f"files must be relative paths inside the artifact, not {path!r}")
    return path


@dataclass(frozen=True)
class StoredModel:
    tag: Tag
    path: Path
    info: ModelInfo

    @property
    def metadata(self) -> dict[str, Any]:
        return self.info.metadata

    @property
    def artifact_path(self) -> Path:
        return self.path / self.info.artifact

    @property
    def is_directory(self) -> bool:
        return bool(self.info.files)

    def verify(self, data: bytes | None = None) -> Path:
        """The artifact's path, once its checksum (or that of ``data`` read from it) matches the metadata.

        A directory artifact must hold exactly the files recorded, each with its recorded digest.
        """
        if self.is_directory:
            return self._verify_directory()
        try:
            digest = sha256_file(self.artifact_path) if data is None else hashlib.sha256(data).hexdigest()
        except OSError as exc:
            raise ModelCorrupted(f"model {self.tag}: cannot read artifact {self.artifact_path}: {exc}") from exc
        if digest != self.info.sha256:
            raise ModelCorrupted(
                f"model {self.tag}: artifact {self.artifact_path} does not match its sha256 checksum "
                f"(expected {self.info.sha256}, found {digest}); refusing to load a corrupted or tampered model"
            )
        return self.artifact_path

    def _verify_directory(self) -> Path:
        try:
            found = manifest(self.artifact_path)
        except (OSError, ValueError) as exc:
            raise ModelCorrupted(f"model {self.tag}: cannot read artifact {self.artifact_path}: {exc}") from exc
        expected = self.info.files
        changed = sorted(p for p in expected.keys() | found.keys() if expected.get(p) != found.get(p))
        if changed or manifest_digest(expected) != self.info.sha256:
            raise ModelCorrupted(
                f"model {self.tag}: artifact {self.artifact_path} does not match its sha256 checksums "
                f"(added, removed or changed: {', '.join(changed) or 'the manifest'}); "
                "refusing to load a corrupted or tampered model"
            )
        return self.artifact_path

    def to_runner(
        self,
        *,
        name: str | None = None,
        max_batch_size: int | None = None,
        max_latency_ms: float | None = None,
        workers: int | None = None,
        workers_per_resource: float | None = None,
    ) -> Runner:
        """A runner for this model; ``workers`` sidecar processes (or ``workers_per_resource`` per CPU) serve it."""
        from runners.runner import Runner

        return Runner.for_model(
            self,
            name=name,
            max_batch_size=max_batch_size,
            max_latency_ms=max_latency_ms,
            workers=workers,
            workers_per_resource=workers_per_resource,
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(root: Path) -> dict[str, str]:
    """Every regular file under ``root`` (relative path -> sha256); links and special files are refused."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise ValueError(f"{relative} is a link or a special file; a model directory holds regular files only")
        if path.is_file():
            files[relative] = sha256_file(path)
    return files


def manifest_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _staging_dir(parent: Path) -> Path:
    # mkdtemp makes 0700 directories; a store built by one user (an image build) is read by another.
    path = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    path.chmod(0o755)
    return path


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class ModelStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def default(cls) -> ModelStore:
        """The store under ``$TIFFIN_HOME``, read at call time (tests point it elsewhere)."""
        return cls(home() / "models")

    def create(
        self,
        name: str,
        *,
        framework: str,
        artifact: str,
        write: Callable[[Path], object],
        signatures: dict[str, MethodConfig],
        libraries: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> StoredModel:
        """Add a version of ``name``; ``write(path)`` writes the artifact (a file or a directory) to ``path``."""
        tag = Tag(name, new_version())
        parent = self.root / tag.name
        parent.mkdir(parents=True, exist_ok=True)
        staging = _staging_dir(parent)
        try:
            target = staging / artifact
            write(target)
            files = manifest(target) if target.is_dir() else {}
            if target.is_dir() and not files:
                raise StoreError(f"model {name!r}: the artifact directory is empty")
            info = ModelInfo(
                tag=tag,
                framework=framework,
                artifact=artifact,
                sha256=manifest_digest(files) if files else sha256_file(target),
                size=_size(target),
                signatures=dict(signatures),
                created=_now(),
                libraries=dict(libraries or {}),
                metadata=json.loads(json.dumps(metadata or {})),
                options=json.loads(json.dumps(options or {})),
                files=files,
            )
            (staging / METADATA_FILE).write_text(json.dumps(info.to_dict(), indent=2) + "\n")
            staging.rename(parent / str(tag.version))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._set_latest(tag)
        return self._read(parent / str(tag.version))

    def get(self, tag: str | Tag) -> StoredModel:
        parsed = Tag.parse(tag)
        version = self._latest_version(parsed.name) if parsed.is_latest else parsed.version
        path = self.root / parsed.name / str(version)
        if version is None or not (path / METADATA_FILE).is_file():
            raise ModelNotFound(f"model {parsed} not found in the store at {self.root}")
        return self._read(path)

    def models(self, name: str | None = None) -> list[StoredModel]:
        """Stored versions, by name, oldest first."""
        if not self.root.is_dir():
            return []
        if name:
            parents = [self.root / name]
        else:  # a dot directory is an import being unpacked, never a model's name
            parents = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        found: list[StoredModel] = []
        for parent in parents:
            versions = [p for p in parent.glob(f"*/{METADATA_FILE}") if not p.parent.name.startswith(".")]
            found.extend(sorted((self._read(p.parent) for p in versions), key=lambda m: m.info.created))
        return found

    def delete(self, tag: str | Tag) -> StoredModel:
        model = self.get(tag)
        shutil.rmtree(model.path)
        remaining = self.models(model.tag.name)
        if not remaining:
            shutil.rmtree(self.root / model.tag.name, ignore_errors=True)
        elif self._latest_version(model.tag.name) == model.tag.version or not self._has_pointer(model.tag.name):
            self._set_latest(remaining[-1].tag)
        return model

    def import_dir(self, source: Path | str) -> StoredModel:
        """Copy in an exported model directory (``model.json`` + artifact), checksum verified."""
        source = Path(source)
        model = self._read(source)
        target = self.root / model.tag.name / str(model.tag.version)
        if target.exists():
            raise StoreError(f"model {model.tag} is already in the store")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = _staging_dir(target.parent)
        try:
            shutil.copy2(source / METADATA_FILE, staging / METADATA_FILE)
            _copy(model.artifact_path, staging / model.info.artifact)
            self._read(staging).verify()  # the copy, not the source: what is checked is what stays
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._set_latest(model.tag)
        return self._read(target)

    def export(self, tag: str | Tag, target: Path | str) -> Path:
        model = self.get(tag)
        model.verify()
        target = Path(target)
        target.mkdir(parents=True, exist_ok=False)
        shutil.copy2(model.path / METADATA_FILE, target / METADATA_FILE)
        _copy(model.artifact_path, target / model.info.artifact)
        return target

    def _read(self, path: Path) -> StoredModel:
        try:
            info = ModelInfo.from_dict(json.loads((path / METADATA_FILE).read_text()))
        except FileNotFoundError as exc:
            raise ModelNotFound(f"no {METADATA_FILE} in {path}") from exc
        except (ValueError, KeyError, TypeError, InvalidTag) as exc:
            raise ModelCorrupted(f"unreadable model metadata {path / METADATA_FILE}: {exc}") from exc
        return StoredModel(info.tag, path, info)

    def _has_pointer(self, name: str) -> bool:
        return (self.root / name / LATEST).is_file()

    def _latest_version(self, name: str) -> str | None:
        try:
            version = (self.root / name / LATEST).read_text().strip()
        except OSError:
            version = ""
        if version and (self.root / name / version / METADATA_FILE).is_file():
            return version
        versions = self.models(name) if (self.root / name).is_dir() else []
        return versions[-1].tag.version if versions else None

    def _set_latest(self, tag: Tag) -> None:
        pointer = self.root / tag.name / LATEST
        fd, tmp = tempfile.mkstemp(prefix=".latest-", dir=pointer.parent)
        with os.fdopen(fd, "w") as f:
            f.write(f"{tag.version}\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, pointer)
