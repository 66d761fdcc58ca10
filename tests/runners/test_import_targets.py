import dataclasses
import os.path
import sys
import typing
from pathlib import Path

import pytest

from runners.imports import ImportTargetError, import_target, is_import_target, parse_target


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def reason(spec: str, **kwargs: typing.Any) -> str:
    with pytest.raises(ImportTargetError) as caught:
        import_target(spec, **kwargs)
    assert str(caught.value) == f"cannot import {spec!r}: {caught.value.reason}"
    assert "\n" not in str(caught.value)
    return caught.value.reason


def test_module_target_and_dotted_attribute() -> None:
    assert import_target("os.path:join") is os.path.join
    assert import_target("pathlib:Path.cwd") == Path.cwd


def test_file_target(tmp_path: Path) -> None:
    write(tmp_path / "svc_plain.py", "class Holder:\n    value = 41\nsvc = Holder()\n")
    svc = import_target("svc_plain.py:svc", base_dirs=[tmp_path])
    assert svc.value == 41
    assert import_target("svc_plain.py:Holder.value", base_dirs=[tmp_path]) == 41


def test_same_file_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path / "counted_once.py", "import itertools\nLOADS = []\nLOADS.append(1)\n")
    first = import_target("counted_once.py:LOADS", base_dirs=[tmp_path])
    again = import_target(str(tmp_path / "counted_once.py") + ":LOADS")
    assert first is again and first == [1]


def test_file_module_is_registered_so_dataclasses_and_annotations_resolve(tmp_path: Path) -> None:
    write(
        tmp_path / "typed_things.py",
        "from __future__ import annotations\n"
        "import dataclasses\n"
        "@dataclasses.dataclass\n"
        "class Point:\n"
        "    x: int\n"
        "    other: Point | None = None\n",
    )
    point_cls = import_target("typed_things.py:Point", base_dirs=[tmp_path])
    module = sys.modules[point_cls.__module__]
    assert module.__file__ == str(tmp_path / "typed_things.py")
    assert typing.get_type_hints(point_cls)["x"] is int
    assert dataclasses.replace(point_cls(1), x=2).x == 2


def test_file_sibling_imports_work_and_share_the_module(tmp_path: Path) -> None:
    write(tmp_path / "pkgless" / "shared_sibling.py", "STATE = object()\n")
    write(tmp_path / "pkgless" / "uses_sibling.py", "from shared_sibling import STATE\n")
    via_sibling = import_target("pkgless/uses_sibling.py:STATE", base_dirs=[tmp_path])
    direct = import_target("pkgless/shared_sibling.py:STATE", base_dirs=[tmp_path])
    assert via_sibling is direct


def test_file_whose_name_is_taken_gets_a_unique_module_name(tmp_path: Path) -> None:
    write(tmp_path / "json.py", "MINE = True\n")  # must not replace the standard library's json
    assert import_target("json.py:MINE", base_dirs=[tmp_path]) is True
    import json

    assert hasattr(json, "dumps") and not hasattr(json, "MINE")
    write(tmp_path / "a" / "twin_name.py", "WHO = 'a'\n")
    write(tmp_path / "b" / "twin_name.py", "WHO = 'b'\n")
    assert import_target("a/twin_name.py:WHO", base_dirs=[tmp_path]) == "a"
    assert import_target("b/twin_name.py:WHO", base_dirs=[tmp_path]) == "b"


def test_base_dirs_are_searched_in_order(tmp_path: Path) -> None:
    write(tmp_path / "first" / "lookup_order.py", "WHERE = 'first'\n")
    write(tmp_path / "second" / "lookup_order.py", "WHERE = 'second'\n")
    write(tmp_path / "second" / "only_second.py", "WHERE = 'second'\n")
    dirs = [tmp_path / "first", tmp_path / "second"]
    assert import_target("lookup_order.py:WHERE", base_dirs=dirs) == "first"
    assert import_target("only_second.py:WHERE", base_dirs=dirs) == "second"


def test_relative_file_defaults_to_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "from_cwd.py", "X = 1\n")
    monkeypatch.chdir(tmp_path)
    assert import_target("from_cwd.py:X") == 1


def test_module_target_found_in_base_dirs(tmp_path: Path) -> None:
    write(tmp_path / "basepkg_cfg" / "__init__.py", "")
    write(tmp_path / "basepkg_cfg" / "mod.py", "VALUE = 'found'\n")
    assert import_target("basepkg_cfg.mod:VALUE", base_dirs=[tmp_path]) == "found"


def test_file_not_found(tmp_path: Path) -> None:
    assert reason("nope.py:app", base_dirs=[tmp_path]) == f"file not found (searched {tmp_path})"
    assert reason(str(tmp_path / "nope.py") + ":app") == "file not found"


def test_module_not_found() -> None:
    assert reason("no_such_module_xyz.sub:app") == "module 'no_such_module_xyz' not found"


def test_missing_dependency_of_a_module_is_not_module_not_found(tmp_path: Path) -> None:
    write(tmp_path / "needs_missing.py", "import no_such_dependency_xyz\n")
    assert reason("needs_missing.py:x", base_dirs=[tmp_path]) == (
        "importing it raised ModuleNotFoundError: No module named 'no_such_dependency_xyz'"
    )


def test_missing_attribute(tmp_path: Path) -> None:
    write(tmp_path / "has_svc.py", "svc = object()\n")
    assert reason("has_svc.py:scv", base_dirs=[tmp_path]) == "the module has no attribute 'scv' (did you mean 'svc'?)"
    assert reason("has_svc.py:svc.app", base_dirs=[tmp_path]) == "'svc' has no attribute 'app'"
    assert reason("os.path:nothing_like_it") == "the module has no attribute 'nothing_like_it'"


def test_syntax_error_in_the_file(tmp_path: Path) -> None:
    write(tmp_path / "broken_syntax.py", "def f(:\n    pass\n")
    message = reason("broken_syntax.py:f", base_dirs=[tmp_path])
    assert message.startswith("importing it raised SyntaxError: ")
    assert "broken_syntax.py, line 1" in message


def test_exception_while_importing_and_retry_after_a_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "raises_once.py", "raise RuntimeError('model\\nmissing')\n")
    assert reason("raises_once.py:X", base_dirs=[tmp_path]) == "importing it raised RuntimeError: model missing"
    path.write_text("X = 'fixed'\n")
    assert import_target("raises_once.py:X", base_dirs=[tmp_path]) == "fixed"


def test_sys_exit_while_importing_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "exits.py", "import sys\nsys.exit(3)\n")
    assert reason("exits.py:X", base_dirs=[tmp_path]) == "importing it raised SystemExit: 3"


@pytest.mark.parametrize(
    "spec",
    ["", "svc", "file.py", "file.py:", ":svc", "pkg.mod:not valid", "pkg mod:svc", "dir/file.txt:svc", "a..b:c", "m:1x"],
)
def test_bad_form(spec: str) -> None:
    with pytest.raises(ImportTargetError) as caught:
        parse_target(spec)
    assert str(caught.value).startswith(f"cannot import {spec!r}: ")
    assert not is_import_target(spec)


def test_parse_target() -> None:
    assert parse_target("examples/iris_service.py:svc") == ("file", "examples/iris_service.py", "svc")
    assert parse_target("pkg.mod:Cls.attr") == ("module", "pkg.mod", "Cls.attr")
    assert is_import_target("examples/iris_service.py:svc")
    assert not is_import_target("config/service.yaml")
