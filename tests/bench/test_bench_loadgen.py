import json
from typing import Any

import pytest

from bench import loadgen

CLEAN: dict[str, Any] = {
    "duration_us": 2_000_000,
    "requests": 1000,
    "bytes": 120_000,
    "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
    "latency_us": {
        "min": 80,
        "max": 9000,
        "mean": 400.0,
        "stdev": 50.0,
        "p50": 350,
        "p75": 400,
        "p90": 500,
        "p99": 2500,
        "p99.9": 8000,
    },
    "responses": 1000,
    "non_200": 0,
    "mismatches": 0,
    "samples": [],
}


def wrk_stdout(raw: dict[str, Any]) -> str:
    return (
        "Running 2s test @ http://127.0.0.1:1234/classify\n"
        "  2 threads and 16 connections\n"
        "Requests/sec:    500.00\n"
        f"\nBENCH_RESULT {json.dumps(raw)}\n"
    )


def test_parse_output_finds_the_result_line() -> None:
    assert loadgen.parse_output(wrk_stdout(CLEAN)) == CLEAN


def test_parse_output_without_result_line_fails() -> None:
    with pytest.raises(loadgen.LoadError, match="BENCH_RESULT"):
        loadgen.parse_output("Requests/sec: 1\n")


def test_to_result_converts_units() -> None:
    result = loadgen.to_result(CLEAN)
    assert result.rps == 500.0
    assert result.p50_ms == 0.35
    assert result.p99_ms == 2.5
    assert result.requests == 1000


def test_clean_run_has_no_problems() -> None:
    assert loadgen.problems(CLEAN) == []


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"errors": {**CLEAN["errors"], "timeout": 3}}, "3 socket timeout errors"),
        ({"errors": {**CLEAN["errors"], "connect": 1}}, "1 socket connect errors"),
        ({"non_200": 7, "samples": ["503 busy"]}, "7 non-200 answers"),
        ({"mismatches": 2, "samples": ["200 [1]"]}, "2 wrong answers"),
        ({"requests": 0, "responses": 0}, "no request completed"),
        ({"responses": 10}, "only 10 of 1000 answers were checked"),
    ],
)
def test_problems_name_each_kind_of_error(change: dict[str, Any], phrase: str) -> None:
    found = loadgen.problems({**CLEAN, **change})
    assert phrase in found


def test_problems_quote_bad_answers() -> None:
    found = loadgen.problems({**CLEAN, "mismatches": 1, "samples": ["200 [0]"]})
    assert found[-1] == "first bad answers: 200 [0]"


def test_wrk_command_rounds_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen, "wrk_path", lambda: "/usr/bin/wrk")
    command = loadgen.wrk_command("http://h:1/classify", 64, 2, 15.0, 5.0)
    assert command[:5] == ["/usr/bin/wrk", "--threads=2", "--connections=64", "--duration=15s", "--timeout=5s"]
    assert command[-1] == "http://h:1/classify"
