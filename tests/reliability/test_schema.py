from __future__ import annotations

from pathlib import Path

from reliability import schema
from reliability.report import failures
from reliability.target import Run


def test_schemathesis_finds_nothing_in_short_mode(tmp_path: Path) -> None:
    figures = schema.run(Run(tmp_path, short=True))
    for figure in failures(figures):
        print(figure)
    assert not failures(figures)
    checked = {f.check for f in figures}
    assert len(figures) == 2 * sum(1 for t in schema.TARGETS if t.short)  # a document and a run per target
    assert any("default service" in c for c in checked)


def test_a_failing_run_is_reported_as_failed(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(
        '{"operations": {"selected": 2, "tested": 2}, "test_cases": {"generated": 9}, "complete": true,'
        ' "failures": [{"code": "ST108", "title": "Response violates schema", "count": 1,'
        ' "operations": ["POST /x"]}], "errors": []}'
    )
    (tmp_path / "requests.har").write_text(
        '{"log": {"entries": [{"response": {"status": 200}}, {"response": {"status": 500}}]}}'
    )
    outcome = schema.read_reports(tmp_path, 1)
    assert (outcome.cases, outcome.requests, outcome.server_errors) == (9, 2, 1)
    target = schema.TARGETS[0]
    figure = schema.outcome_figure(target, schema.Volume(examples=1, timeout=1), outcome, "log")
    assert not figure.passed
    assert "ST108 Response violates schema: 1" in figure.figure and "1 5xx" in figure.figure
    assert schema.outcome_figure(target, schema.Volume(1, 1), schema.Outcome(0), "").passed is False  # nothing sent


def test_an_invalid_document_is_reported_as_failed() -> None:
    target = schema.TARGETS[0]
    assert not schema.document_figure(target, {"openapi": "3.1.0", "paths": {"/x": {"get": {"responses": 1}}}}).passed
    valid = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    assert schema.document_figure(target, valid).passed
