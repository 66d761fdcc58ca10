"""What a section measured: one ``Figure`` per check, a Markdown table and a JSON record of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SECTIONS = ("schema", "fuzz", "hostile", "soak", "faults", "security")
"""In the order the CLI runs them and the table lists them."""


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


def write(
    directory: Path, sections: Sequence[str], figures: Sequence[Figure], meta: dict[str, Any]
) -> tuple[Path, Path]:
    """Record the figures of ``sections``, keeping what an earlier run recorded for the others.

    ``scripts/reliability --only soak`` refreshes the soak's rows of the table and leaves the
    rest as they were measured; each section's rows say which run made them."""
    directory.mkdir(parents=True, exist_ok=True)
    record = directory / "reliability.json"
    runs: dict[str, dict[str, Any]] = {}
    kept: list[Figure] = []
    if record.exists():
        earlier = json.loads(record.read_text())
        runs = {name: run for name, run in earlier.get("runs", {}).items() if name not in sections}
        kept = [Figure(**f) for f in earlier.get("figures", []) if f["section"] not in sections]
    runs.update({name: meta for name in sections})
    every = kept + list(figures)
    order = {name: i for i, name in enumerate(SECTIONS)}
    every.sort(key=lambda f: order.get(f.section, len(order)))
    record.write_text(json.dumps({"runs": runs, "figures": [f.to_dict() for f in every]}, indent=2) + "\n")
    made = [
        f"- {name}: `{run['command']}` on {run['date']} ({run['machine']})"
        for name, run in sorted(runs.items(), key=lambda item: order.get(item[0], len(order)))
    ]
    markdown = directory / "reliability.md"
    markdown.write_text("Made by:\n\n" + "\n".join(made) + "\n\n" + table(every))
    return record, markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
