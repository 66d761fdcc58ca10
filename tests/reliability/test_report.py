import json
from pathlib import Path

from reliability.report import Figure, failures, table, write


def test_the_table_has_a_row_per_figure_and_escapes_pipes() -> None:
    figures = [
        Figure("fuzz", "bodies to POST /classify", "0 5xx | 12,000 4xx", True),
        Figure("soak", "RSS trend", "+80 MB", False, detail="runner grew"),
    ]
    lines = table(figures).splitlines()
    assert lines[0] == "| section | check | figure | verdict |"
    assert lines[2] == "| fuzz | bodies to POST /classify | 0 5xx \\| 12,000 4xx | pass |"
    assert lines[3] == "| soak | RSS trend | +80 MB | **FAIL** |"
    assert failures(figures) == [figures[1]]


def test_write_records_the_command_and_every_figure(tmp_path: Path) -> None:
    figures = [Figure("security", "runner binds", "127.0.0.1:3001", True)]
    meta = {"command": "scripts/reliability --short", "date": "2026-12-03", "machine": "x86_64, 2 CPUs"}
    record, markdown = write(tmp_path / "out", ["security"], figures, meta)
    assert json.loads(record.read_text()) == {"runs": {"security": meta}, "figures": [figures[0].to_dict()]}
    text = markdown.read_text()
    assert text.startswith("Made by:\n\n- security: `scripts/reliability --short` on 2026-12-03 (x86_64, 2 CPUs)")
    assert "| security | runner binds | 127.0.0.1:3001 | pass |" in text


def test_a_run_of_some_sections_keeps_the_others_rows(tmp_path: Path) -> None:
    first = {"command": "scripts/reliability", "date": "2026-12-01", "machine": "m"}
    write(tmp_path, ["soak", "fuzz"], [Figure("soak", "rss", "+0 MB", True), Figure("fuzz", "bodies", "0 5xx", True)], first)
    again = {"command": "scripts/reliability --only soak", "date": "2026-12-03", "machine": "m"}
    record, _ = write(tmp_path, ["soak"], [Figure("soak", "rss", "+1 MB", False)], again)
    saved = json.loads(record.read_text())
    assert saved["runs"] == {"fuzz": first, "soak": again}
    assert [(f["section"], f["figure"]) for f in saved["figures"]] == [("fuzz", "0 5xx"), ("soak", "+1 MB")]
