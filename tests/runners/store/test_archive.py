"""Archives of exported models: unpacked member by member, anything but plain files refused first."""

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from runners.store.archive import ArchiveRefused, is_archive, pack, unpack

METADATA = '{"artifact": "model.skops", "size": 8}'


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("m/extra.bin", b"\0" * 4096, "'m/extra.bin' is not part of the exported model"),
        ("m/model.skops", b"\0" * 4096, "declare 4096 bytes, more than the 8 of the model"),
    ],
)
def test_members_beyond_what_model_json_declares_are_refused_before_any_write(
    tmp_path: Path, name: str, data: bytes, match: str
) -> None:
    archive = tmp_path / "big.tar.gz"
    with tarfile.open(archive, "w:gz") as out:
        for member, content in (("m/model.json", METADATA.encode()), (name, data)):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            out.addfile(info, io.BytesIO(content))
    with pytest.raises(ArchiveRefused, match=match):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    model = tmp_path / "exported" / "m"
    model.mkdir(parents=True)
    (model / "model.json").write_text('{"artifact": "model.skops", "size": 8}')
    (model / "model.skops").write_bytes(b"artifact")
    return model


def _tar(path: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as out:
        for info in members:
            out.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar", ".tar.xz", ".zip"])
def test_pack_then_unpack_gives_the_model_back(tmp_path: Path, exported: Path, suffix: str) -> None:
    archive = pack(exported, tmp_path / f"m{suffix}")
    assert is_archive(archive)
    found = unpack(archive, tmp_path / "out")
    assert found == tmp_path / "out" / "m"
    assert (found / "model.skops").read_bytes() == b"artifact"


def test_a_tar_of_a_directory_made_with_dot_keeps_its_leading_dot_slash(tmp_path: Path, exported: Path) -> None:
    archive = tmp_path / "dot.tar.gz"
    with tarfile.open(archive, "w:gz") as out:
        out.add(exported, arcname=".")  # what `tar -czf dot.tar.gz -C exported/m .` writes: ./, ./model.json, ...
    found = unpack(archive, tmp_path / "out")
    assert found == tmp_path / "out"
    assert (found / "model.skops").read_bytes() == b"artifact"


def test_a_zip_written_by_writestr_has_no_file_type_and_is_a_file(tmp_path: Path) -> None:
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("m/model.json", METADATA)  # external_attr 0o600 << 16: no S_IFREG bits
        out.writestr("m/model.skops", "artifact")
    assert (unpack(archive, tmp_path / "out") / "model.skops").read_text() == "artifact"


@pytest.mark.parametrize(
    "member",
    [
        _info("../escape.txt"),
        _info("m/../../escape.txt"),
        _info("models/x/../../.."),
        _info("/tmp/absolute.txt"),
        _info("..\\escape.txt"),
        _info("m/./model.json"),
        _info("m/link", tarfile.SYMTYPE, "/etc/passwd"),
        _info("m/hard", tarfile.LNKTYPE, "/etc/passwd"),
        _info("m/null", tarfile.CHRTYPE),
        _info("m/fifo", tarfile.FIFOTYPE),
    ],
    ids=lambda m: m.name,
)
def test_hostile_tar_members_refuse_the_archive_before_any_write(tmp_path: Path, member: tarfile.TarInfo) -> None:
    archive = _tar(tmp_path / "bad.tar.gz", _info("m/model.json"), member)
    with pytest.raises(ArchiveRefused, match="bad.tar.gz: member"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz"]


def test_a_symlink_then_a_file_through_it_writes_nothing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = _tar(tmp_path / "bad.tar.gz", _info("m/out", tarfile.SYMTYPE, str(outside)), _info("m/out/planted.txt"))
    with pytest.raises(ArchiveRefused, match="symbolic link"):
        unpack(archive, tmp_path / "out")
    assert list(outside.iterdir()) == []


def test_a_member_declaring_more_than_the_free_space_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        out.addfile(_info("m/model.json", size=2), io.BytesIO(b"{}"))
        huge = _info("m/weights.bin", size=1 << 60)
        out.addfile(huge)
    (tmp_path / "bomb.tar").write_bytes(buffer.getvalue() + b"\0" * 1024)
    with pytest.raises(ArchiveRefused):
        unpack(tmp_path / "bomb.tar", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../escape.txt", "/tmp/absolute.txt", "m/../../x"])
def test_hostile_zip_names_are_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("m/model.json", "{}")
        out.writestr(name, "x")
    with pytest.raises(ArchiveRefused, match="not a plain relative path"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as out:
        link = zipfile.ZipInfo("m/link")
        link.external_attr = 0o120777 << 16
        out.writestr(link, "/etc/passwd")
    with pytest.raises(ArchiveRefused, match="symbolic link"):
        unpack(archive, tmp_path / "out")


def test_an_archive_without_model_json_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "empty.tar.gz", _info("m/model.skops"))
    with pytest.raises(ArchiveRefused, match="no model.json"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(ArchiveRefused, match="not a readable tar archive"):
        unpack(tmp_path / "x.tar.gz", tmp_path / "out")
