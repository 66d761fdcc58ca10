import pytest

from reliability import cli
from reliability.report import Figure
from reliability.target import Run


def test_only_picks_known_sections() -> None:
    assert cli.parse(["--only", "fuzz, soak"]).sections == ["fuzz", "soak"]
    assert cli.parse([]).sections == list(cli.SECTIONS)


def test_an_unknown_section_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse(["--only", "fuzz,chaos"])
    assert exit_info.value.code == 2
    assert "unknown section chaos" in capsys.readouterr().err


def test_a_section_that_raises_is_a_failed_figure(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    class Broken:
        @staticmethod
        def run(run: Run) -> list[Figure]:
            raise RuntimeError("no port")

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: Broken)
    figures = cli.run_section("soak", Run(tmp_path, short=True))
    assert figures == [Figure("soak", "the section ran to its end", "raised RuntimeError: no port", False)]
