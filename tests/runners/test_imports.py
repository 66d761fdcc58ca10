import sys
from pathlib import Path

import pytest

from runners.imports import ImportTargetError, import_target, path_of
from runners.runnable import Runnable

SAMPLES = Path(__file__).resolve().parent / "sample_runnables.py"


def test_module_and_file_forms() -> None:
    assert import_target("json:dumps") is __import__("json").dumps
    assert import_target("os.path:join.__name__") == "join"
    doubler = import_target(f"{SAMPLES}:Doubler")
    assert issubclass(doubler, Runnable)
    assert import_target(f"{SAMPLES}:Doubler") is doubler  # the file is loaded once


@pytest.mark.parametrize("bad", ["json", "json:", ":x", "json:nope", "no_such_module_here:x", "missing_file.py:X"])
def test_bad_paths_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(ImportTargetError):
        import_target(bad)


def test_path_of_names_what_another_process_can_import() -> None:
    from runners.sklearn import SklearnRunnable

    assert path_of(SklearnRunnable) == "runners.sklearn:SklearnRunnable"
    doubler = import_target(f"{SAMPLES}:Doubler")
    assert path_of(doubler) == f"{SAMPLES}:Doubler"  # loaded from a file: named by its path

    class Local(Runnable):
        pass

    with pytest.raises(ValueError, match="inside a function"):
        path_of(Local)


def test_path_of_a_script_class_is_its_file(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("class Thing:\n    pass\n")
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(script)}
    module = type(sys)("__main__")
    module.__dict__.update(namespace)
    exec(compile(script.read_text(), str(script), "exec"), module.__dict__)
    thing = module.__dict__["Thing"]
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = module
    try:
        assert path_of(thing) == f"{script}:Thing"
    finally:
        sys.modules["__main__"] = saved
