"""Exported models as archives: ``.tar`` (also gzip, bzip2 or xz compressed) and ``.zip``.

An archive holds what ``ModelStore.export`` writes (``model.json`` and the artifact), at its top
or in one top directory. Archives come from elsewhere, so ``unpack`` trusts none of their headers:
every member must be a regular file or a directory with a plain relative name (no ``..``, no
absolute path, no backslash, no NUL); links (symbolic or hard), devices and FIFOs refuse the
whole archive, before anything is written. The sizes the members declare must fit in the space
left on the disk, and no member is written past its declared size. Files are written by this
module (never by ``tarfile``/``zipfile`` extraction), with fresh modes, into a new directory.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from runners.store.model_store import StoreError

__all__ = ["SUFFIXES", "ArchiveRefused", "is_archive", "pack", "unpack"]

SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")
MAX_MEMBERS = 100_000
MAX_METADATA = 1 << 20  # model.json: a few kB in practice
_CHUNK = 1 << 20


class ArchiveRefused(StoreError):
    """The archive holds something an exported model never does; nothing was written."""


@dataclass(frozen=True)
class _Member:
    name: str  # the validated relative path
    is_dir: bool
    size: int
    key: object  # the TarInfo or ZipInfo to read it by


_Reader = Callable[[_Member], AbstractContextManager[IO[bytes]]]


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def unpack(archive: Path, target: Path) -> Path:
    """Write the archive's members under ``target`` (a new directory); the directory with ``model.json``."""
    with _opened(archive) as (members, read):
        free = shutil.disk_usage(target.parent).free
        declared = sum(m.size for m in members)
        if declared > free:
            raise ArchiveRefused(
                f"{archive}: its members declare {declared} bytes, more than the {free} bytes free; not unpacked"
            )
        _expected(members, read, archive)
        target.mkdir(mode=0o755)
        try:
            for member in members:
                path = target.joinpath(*PurePosixPath(member.name).parts)
                if member.is_dir:
                    path.mkdir(mode=0o755, parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                with read(member) as source, _create(path) as sink:
                    _copy(source, sink, member, archive)
            return _model_dir(target, archive)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise


def _expected(members: list[_Member], read: _Reader, archive: Path) -> None:
    """Refuse, before writing, members that are not the model ``model.json`` describes, or more bytes than
    it declares: a bomb's size is told by its headers, checked against the model's own record."""
    from runners.store.model_store import METADATA_FILE

    tops = {m.name.split("/", 1)[0] for m in members}
    prefix = f"{next(iter(tops))}/" if len(tops) == 1 and not any(m.name == METADATA_FILE for m in members) else ""
    metadata = next((m for m in members if m.name == prefix + METADATA_FILE and not m.is_dir), None)
    if metadata is None:
        raise ArchiveRefused(
            f"{archive}: no {METADATA_FILE} at its top or in its one top directory; not an exported model"
        )
    if metadata.size > MAX_METADATA:
        raise ArchiveRefused(f"{archive}: its {METADATA_FILE} declares {metadata.size} bytes; not an exported model")
    with read(metadata) as source:
        text = source.read(MAX_METADATA + 1)
    try:
        info = json.loads(text)
        artifact, size = prefix + str(info["artifact"]), int(info["size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveRefused(f"{archive}: unreadable {METADATA_FILE}: {exc}") from exc
    inside = [m for m in members if m.name == artifact or m.name.startswith(artifact + "/")]
    extra = [
        m.name for m in members if m not in inside and m is not metadata and not (m.is_dir and m.name + "/" == prefix)
    ]
    if extra:
        raise ArchiveRefused(f"{archive}: {extra[0]!r} is not part of the exported model {METADATA_FILE} describes")
    declared = sum(m.size for m in inside)
    if declared > size:
        raise ArchiveRefused(
            f"{archive}: its artifact's members declare {declared} bytes, "
            f"more than the {size} of the model; not unpacked"
        )


def pack(source: Path, archive: Path) -> Path:
    """An exported model directory as an archive of regular files, its top directory named as ``source``."""
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive, "x", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    out.write(path, (Path(source.name) / path.relative_to(source)).as_posix())
        return archive
    mode = {".gz": "x:gz", ".tgz": "x:gz", ".bz2": "x:bz2", ".tbz2": "x:bz2", ".xz": "x:xz", ".txz": "x:xz"}
    with tarfile.open(archive, mode.get(archive.suffix.lower(), "x")) as out:  # type: ignore[call-overload]
        out.add(source, arcname=source.name, filter=_plain)
    return archive


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _model_dir(root: Path, archive: Path) -> Path:
    from runners.store.model_store import METADATA_FILE

    if (root / METADATA_FILE).is_file():
        return root
    tops = list(root.iterdir())
    if len(tops) == 1 and (tops[0] / METADATA_FILE).is_file():
        return tops[0]
    raise ArchiveRefused(f"{archive}: no {METADATA_FILE} at its top or in its one top directory; not an exported model")


def _name(raw: str, archive: Path, *, is_dir: bool) -> str:
    """``raw`` as a plain relative POSIX path ("" for the archive's own top, as ``tar -C dir .`` writes it,
    whose leading ``./`` is dropped), or the archive is refused."""
    name = raw
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/") if name.rstrip("/") else name
    if is_dir and name in ("", "."):
        return ""
    parts = name.split("/")
    if (
        not name
        or "\0" in name
        or "\\" in name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ArchiveRefused(f"{archive}: member {raw!r} is not a plain relative path inside the archive; not unpacked")
    return name


def _check(members: list[_Member], archive: Path) -> list[_Member]:
    if len(members) > MAX_MEMBERS:
        raise ArchiveRefused(f"{archive}: more than {MAX_MEMBERS} members; not unpacked")
    files = {m.name for m in members if not m.is_dir}
    seen: set[str] = set()
    for m in members:
        if not m.is_dir and m.name in seen:
            raise ArchiveRefused(f"{archive}: member {m.name!r} appears twice; not unpacked")
        seen.add(m.name)
        parents = [str(p) for p in PurePosixPath(m.name).parents][:-1]
        clash = next((p for p in parents if p in files), None)
        if clash is not None:
            raise ArchiveRefused(f"{archive}: {m.name!r} lies under the file {clash!r}; not unpacked")
    return members


@contextmanager
def _opened(archive: Path) -> Iterator[tuple[list[_Member], _Reader]]:
    if not archive.is_file():
        raise StoreError(f"{archive}: no such file")
    if archive.name.lower().endswith(".zip"):
        try:
            zipped = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveRefused(f"{archive}: not a readable zip archive: {exc}") from exc
        with zipped:
            members = [_zip_member(i, archive) for i in zipped.infolist()]
            yield _check([m for m in members if m.name], archive), _zip_reader(zipped)
        return
    try:
        tarred = tarfile.open(archive)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRefused(f"{archive}: not a readable tar archive: {exc}") from exc
    with tarred:
        try:
            infos = tarred.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveRefused(f"{archive}: not a readable tar archive: {exc}") from exc
        members = [_tar_member(i, archive) for i in infos]
        yield _check([m for m in members if m.name], archive), _tar_reader(tarred)


def _tar_member(info: tarfile.TarInfo, archive: Path) -> _Member:
    name = _name(info.name, archive, is_dir=info.isdir())
    if info.isdir():
        return _Member(name, True, 0, info)
    if not info.isreg():
        kind = (
            "a symbolic link"
            if info.issym()
            else "a hard link"
            if info.islnk()
            else "a device, FIFO or other special file"
        )
        raise ArchiveRefused(f"{archive}: member {info.name!r} is {kind}; an exported model holds regular files only")
    return _Member(name, False, info.size, info)


def _zip_member(info: zipfile.ZipInfo, archive: Path) -> _Member:
    name = _name(info.filename, archive, is_dir=info.is_dir())
    mode = info.external_attr >> 16
    if info.is_dir():
        return _Member(name, True, 0, info)
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # writers that record no file type mean a file
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
        raise ArchiveRefused(
            f"{archive}: member {info.filename!r} is {kind}; an exported model holds regular files only"
        )
    return _Member(name, False, info.file_size, info)


def _tar_reader(tarred: tarfile.TarFile) -> _Reader:
    @contextmanager
    def read(member: _Member) -> Iterator[IO[bytes]]:
        source = tarred.extractfile(member.key) if isinstance(member.key, tarfile.TarInfo) else None
        if source is None:
            raise ArchiveRefused(f"member {member.name!r} has no data")
        with source:
            yield source

    return read


def _zip_reader(zipped: zipfile.ZipFile) -> _Reader:
    @contextmanager
    def read(member: _Member) -> Iterator[IO[bytes]]:
        if not isinstance(member.key, zipfile.ZipInfo):
            raise ArchiveRefused(f"member {member.name!r} is not a zip member")
        with zipped.open(member.key) as source:
            yield source

    return read


@contextmanager
def _create(path: Path) -> Iterator[IO[bytes]]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as sink:
        yield sink


def _copy(source: IO[bytes], sink: IO[bytes], member: _Member, archive: Path) -> None:
    left = member.size
    try:
        while chunk := source.read(min(_CHUNK, left + 1)):
            left -= len(chunk)
            if left < 0:
                raise ArchiveRefused(
                    f"{archive}: member {member.name!r} holds more than the {member.size} bytes it declares"
                )
            sink.write(chunk)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ArchiveRefused(f"{archive}: member {member.name!r} does not read back: {exc}") from exc
    if left > 0:
        raise ArchiveRefused(f"{archive}: member {member.name!r} holds fewer bytes than the {member.size} it declares")
