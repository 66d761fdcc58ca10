"""The security section in short mode, one test per part (each starts its own servers): every figure passes."""

from pathlib import Path

import pytest

from reliability import security
from reliability.report import failures, table
from reliability.target import Run


@pytest.mark.parametrize("part", list(security.PARTS))
def test_security_short(tmp_path: Path, part: str) -> None:
    figures = security.PARTS[part](Run(tmp_path, short=True))
    print(table(figures))
    bad = failures(figures)
    assert figures
    assert not bad, "\n".join(f"{f.check}: {f.figure} -- {f.detail}" for f in bad)
