"""``scripts/reliability --short --only faults``: every fault scenario, each on a fresh server."""

from __future__ import annotations

from pathlib import Path

from reliability import faults
from reliability.target import Run


def test_every_fault_scenario_passes_in_short_mode(tmp_path: Path) -> None:
    figures = faults.run(Run(tmp_path, short=True))
    failed = [f"{f.check}: {f.figure} -- {f.detail}" for f in figures if not f.passed]
    for figure in figures:
        print(f"{figure.check}: {figure.figure}")
    assert len(figures) == 4
    assert not failed, "\n".join(failed)
