"""Schemathesis over ``/docs.json``: every operation a service documents, every check, no 5xx.

For each target (the default service and the examples with mounted FastAPI apps and JSON or
pydantic APIs) a ``tiffin serve`` starts, its document is validated as OpenAPI, and
``schemathesis run URL/docs.json --checks all`` drives it: the examples, coverage and fuzzing
phases, positive and negative data. The figures come from schemathesis' own JSON report
(operations, cases, failures by check) and its HAR of every request sent (5xx count).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from openapi_spec_validator import validate as validate_openapi

from reliability.report import Figure
from reliability.target import Run, serve

SECTION = "schema"


@dataclass(frozen=True)
class SchemaTarget:
    name: str
    service: str | None  # an import target, or None for the default service (config/service.yaml)
    about: str
    short: bool = True  # also run in short mode
    server: dict[str, Any] = field(default_factory=dict)


TARGETS = (
    SchemaTarget("default", None, "the default service (config/service.yaml)"),
    SchemaTarget(
        "fastapi_service",
        "examples/fastapi_service.py:svc",
        "examples/fastapi_service.py (a pydantic JSON API, a mounted FastAPI app)",
    ),
    SchemaTarget(
        "typed",
        "reliability/schema_service.py:Typed",
        "reliability/schema_service.py (class-style JSON and pydantic APIs, a mounted FastAPI app)",
    ),
    SchemaTarget(
        "fastapi_class_service",
        "examples/fastapi_class_service.py:MyService",
        "examples/fastapi_class_service.py (FastAPI routes of a class-style service at /v1)",
        short=False,
    ),
    SchemaTarget(
        "prefix_service",
        "examples/prefix_service.py:MyService",
        "examples/prefix_service.py (a FastAPI app mounted at /fastapi)",
        short=False,
    ),
    SchemaTarget(
        "flask_service",
        "examples/flask_service.py:svc",
        "examples/flask_service.py (an ndarray API beside a mounted Flask app)",
        short=False,
    ),
    SchemaTarget(
        "iris_service",
        "examples/iris_service.py:svc",
        "examples/iris_service.py (ndarray APIs, one at a custom route)",
        short=False,
    ),
)
"""Left out: middleware_service.py (its TrustedHost and HTTPS-redirect middlewares refuse plain
HTTP to 127.0.0.1, /docs.json included, by design) and the summarizer examples (they need a
transformers model download)."""


@dataclass(frozen=True)
class Volume:
    examples: int  # test cases per operation and phase (schemathesis' --max-examples)
    timeout: int  # seconds for one target's run

    @classmethod
    def of(cls, run: Run) -> Volume:
        return cls(examples=25, timeout=120) if run.short else cls(examples=500, timeout=1800)


@dataclass
class Outcome:
    """What one schemathesis run reported."""

    exit_code: int
    operations_selected: int = 0
    operations_tested: int = 0
    cases: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, int] = field(default_factory=dict)  # "ST201 Schema-violating request accepted" → count
    failing: dict[str, list[str]] = field(default_factory=dict)  # the same key → operations
    errors: list[str] = field(default_factory=list)
    complete: bool = False
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def run(run: Run) -> list[Figure]:
    figures: list[Figure] = []
    volume = Volume.of(run)
    for target in TARGETS:
        if run.short and not target.short:
            continue
        figures += check_target(run, target, volume)
    return figures


def check_target(run: Run, target: SchemaTarget, volume: Volume) -> list[Figure]:
    config = {"server": {"workers": 1, **target.server}} if target.service else None
    with serve(run, f"schema-{target.name}", config, service=target.service) as served:
        document = httpx.get(f"{served.url}/docs.json", timeout=30).json()
        figures = [document_figure(target, document)]
        outcome = schemathesis(run, served.url, run.work / f"schema-{target.name}", volume)
        figures.append(outcome_figure(target, volume, outcome, served.log_tail(20)))
    return figures


def document_figure(target: SchemaTarget, document: dict[str, Any]) -> Figure:
    check = f"/docs.json of {target.about} validates as OpenAPI {document.get('openapi', '?')}"
    try:
        validate_openapi(document)
    except Exception as exc:  # the validator's errors have no common base worth naming
        return Figure(SECTION, check, "invalid", False, f"{type(exc).__name__}: {str(exc)[:500]}")
    paths = document.get("paths") or {}
    operations = sum(1 for item in paths.values() for key in item if key in _METHODS)
    return Figure(SECTION, check, f"valid: {len(paths)} paths, {operations} operations", True)


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def schemathesis(run: Run, url: str, reports: Path, volume: Volume) -> Outcome:
    """``schemathesis run`` with every check and phase over ``url``'s document; its reports read back."""
    reports.mkdir(parents=True, exist_ok=True)
    argv = [
        str(Path(run.python).parent / "schemathesis"),
        "run",
        f"{url}/docs.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--mode",
        "all",  # positive and negative data
        "--max-examples",
        str(volume.examples),
        "--continue-on-failure",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--seed",
        "15",  # the same cases each run; a probe run brings its own
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json,har",
        "--report-json-path",
        str(reports / "report.json"),
        "--report-har-path",
        str(reports / "requests.har"),
    ]
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=reports,  # its crash cache (.schemathesis/) stays out of the repository
        env=run.env(),
        capture_output=True,
        text=True,
        timeout=volume.timeout,
        check=False,
    )
    (reports / "output.txt").write_text(done.stdout + done.stderr)
    outcome = read_reports(reports, done.returncode)
    outcome.seconds = time.monotonic() - started
    if not (reports / "report.json").exists():
        outcome.errors.append(f"no report; schemathesis said: {(done.stdout + done.stderr)[-1500:]}")
    return outcome


def read_reports(reports: Path, exit_code: int) -> Outcome:
    outcome = Outcome(exit_code)
    report_path, har_path = reports / "report.json", reports / "requests.har"
    if report_path.exists():
        report = json.loads(report_path.read_text())
        operations = report.get("operations") or {}
        outcome.operations_selected = int(operations.get("selected", 0))
        outcome.operations_tested = int(operations.get("tested", 0))
        outcome.cases = int((report.get("test_cases") or {}).get("generated", 0))
        outcome.complete = bool(report.get("complete"))
        for failure in report.get("failures") or []:
            key = f"{failure.get('code')} {failure.get('title')}"
            outcome.failures[key] = outcome.failures.get(key, 0) + int(failure.get("count", 1))
            outcome.failing[key] = list(failure.get("operations") or [])
        outcome.errors += [_error_text(e) for e in report.get("errors") or []]
    if har_path.exists():
        entries = json.loads(har_path.read_text()).get("log", {}).get("entries", [])
        outcome.requests = len(entries)
        outcome.statuses = Counter(int(e.get("response", {}).get("status", 0)) for e in entries)
    return outcome


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return " ".join(str(error.get(k, "")) for k in ("operation", "type", "message", "title") if error.get(k))
    return str(error)


def outcome_figure(target: SchemaTarget, volume: Volume, outcome: Outcome, log: str) -> Figure:
    check = (
        f"schemathesis --checks all, {volume.examples} examples per operation and phase, "
        f"positive and negative, over {target.about}"
    )
    failed = sum(outcome.failures.values())
    by_check = ", ".join(f"{k}: {n}" for k, n in sorted(outcome.failures.items())) or "none"
    figure = (
        f"{outcome.operations_tested}/{outcome.operations_selected} operations, {outcome.cases:,} cases, "
        f"{outcome.requests:,} requests, {outcome.server_errors} 5xx, {failed} failures ({by_check})"
    )
    problems = []
    if outcome.requests == 0:
        problems.append("no request was sent")
    if outcome.operations_tested == 0 or outcome.operations_tested < outcome.operations_selected:
        problems.append("an operation was not tested")
    if outcome.errors:
        problems.append("errors: " + "; ".join(outcome.errors)[:1000])
    if failed:
        problems.append("failing: " + "; ".join(f"{k} at {', '.join(v)}" for k, v in outcome.failing.items()))
    if outcome.server_errors:
        problems.append(f"statuses {dict(sorted(outcome.statuses.items()))}")
    if outcome.exit_code != 0 and not problems:
        problems.append(f"schemathesis exited {outcome.exit_code}")
    passed = not problems
    detail = "" if passed else "; ".join(problems) + f"; server log: {log[-800:]}"
    return Figure(SECTION, check, figure, passed, detail)
