"""What a section measured: one ``Figure`` per check, a Markdown table and a JSON record of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    section: str
    check: str  # what was tried, e.g. "100,000 fuzzed bodies to POST /classify"
    figure: str  # what was measured, e.g. "0 5xx, 0 worker deaths, RSS +3.1 MB (bound 50 MB)"
    passed: bool
    detail: str = ""  # why it failed, or the log to read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def table(figures: Sequence[Figure]) -> str:
    lines = ["| section | check | figure | verdict |", "|---|---|---|---|"]
    for f in figures:
        verdict = "pass" if f.passed else "**FAIL**"
        lines.append(f"| {f.section} | {_cell(f.check)} | {_cell(f.figure)} | {verdict} |")
    return "\n".join(lines) + "\n"


def failures(figures: Sequence[Figure]) -> list[Figure]:
    return [f for f in figures if not f.passed]


def write(directory: Path, figures: Sequence[Figure], meta: dict[str, Any]) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    record = directory / "reliability.json"
    record.write_text(json.dumps({"meta": meta, "figures": [f.to_dict() for f in figures]}, indent=2) + "\n")
    markdown = directory / "reliability.md"
    markdown.write_text(f"Made by `{meta['command']}` on {meta['date']} ({meta['machine']}).\n\n" + table(figures))
    return record, markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
