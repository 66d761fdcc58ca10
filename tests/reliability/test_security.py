"""The security section in short mode: every figure passes."""

from pathlib import Path

from reliability import security
from reliability.report import failures, table
from reliability.target import Run


def test_security_short(tmp_path: Path) -> None:
    figures = security.run(Run(tmp_path, short=True))
    print(table(figures))
    bad = failures(figures)
    assert not bad, "\n".join(f"{f.check}: {f.figure} -- {f.detail}" for f in bad)
    assert len(figures) >= 15
