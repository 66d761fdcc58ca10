from typing import Any

from bench import report
from bench.config import MODELS, TARGETS, Point, Target

IRIS_C64 = "1row-c64"


def record(server: str, run: int, rps: float, p99: float, ok: bool = True, **start: Any) -> dict[str, Any]:
    return {
        "run": run,
        "model": "iris",
        "server": server,
        "ok": ok,
        "error": None if ok else "start: boom",
        "ready_s": start.get("ready_s", 1.0),
        "tree_rss_mb": 300.0,
        "worker_rss_mb": start.get("worker_rss_mb", 100.0),
        "workers": 2,
        "points": {IRIS_C64: {"rps": rps, "p50_ms": 10.0, "p99_ms": p99, "foreign_cpu": 0.01 * run}} if ok else {},
    }


def test_median_ignores_missing_values() -> None:
    assert report.median([3.0, None, 1.0, 2.0]) == 2.0
    assert report.median([None]) is None


def test_summarize_takes_medians_of_runs() -> None:
    records = [record("baseline", 1, 100, 20), record("baseline", 2, 300, 10), record("baseline", 3, 200, 30)]
    summary = report.summarize(records)[("iris", "baseline")]
    assert summary.ok
    assert summary.runs == 3
    assert summary.points[IRIS_C64]["rps"] == 200
    assert summary.points[IRIS_C64]["p99_ms"] == 20
    assert summary.points[IRIS_C64]["foreign_cpu"] == 0.03
    assert summary.start["ready_s"] == 1.0


def test_summarize_marks_failed_runs() -> None:
    summary = report.summarize([record("tiffin", 1, 0, 0, ok=False)])[("iris", "tiffin")]
    assert not summary.ok
    assert summary.errors == ["run 1: start: boom"]
    assert summary.points == {}


def test_ratio_divides_by_the_baseline() -> None:
    summaries = report.summarize([record("baseline", 1, 200, 20), record("tiffin", 1, 300, 10)])
    assert report.ratio(summaries, "iris", "tiffin", IRIS_C64, "rps") == 1.5
    assert report.ratio(summaries, "iris", "tiffin", IRIS_C64, "p99_ms") == 0.5
    assert report.ratio(summaries, "iris", "ceiling", IRIS_C64, "rps") is None


def selected(*servers: str) -> set[tuple[str, str]]:
    return {("iris", s) for s in servers}


def test_judge_relative_target() -> None:
    summaries = report.summarize([record("baseline", 1, 200, 20), record("tiffin", 1, 180, 25)])
    rps = Target("iris", "rps", ">=", 1.0, point=Point(1, 64))
    p99 = Target("iris", "p99_ms", "<=", 1.5, point=Point(1, 64))
    assert report.judge(rps, summaries, selected("tiffin", "baseline")).status == "FAIL"
    verdict = report.judge(p99, summaries, selected("tiffin", "baseline"))
    assert (verdict.status, verdict.value) == ("PASS", 1.25)


def test_judge_absolute_target() -> None:
    summaries = report.summarize([record("tiffin", 1, 1, 1, ready_s=2.5, worker_rss_mb=70.0)])
    ready = Target("iris", "ready_s", "<=", 2.0, relative=False)
    rss = Target("iris", "worker_rss_mb", "<=", 80, relative=False)
    assert report.judge(ready, summaries, selected("tiffin")).status == "FAIL"
    assert report.judge(rss, summaries, selected("tiffin")).status == "PASS"


def test_judge_fails_when_tiffin_failed_and_skips_when_not_run() -> None:
    summaries = report.summarize([record("baseline", 1, 200, 20), record("tiffin", 1, 0, 0, ok=False)])
    target = Target("iris", "rps", ">=", 1.0, point=Point(1, 64))
    failed = report.judge(target, summaries, selected("tiffin", "baseline"))
    assert (failed.status, failed.value) == ("FAIL", None)
    assert failed.line().endswith("(not measured)")
    assert report.judge(target, summaries, selected("baseline")).status == "SKIP"


def test_points_and_targets_agree() -> None:
    keys = {(m.name, p.key) for m in MODELS for p in m.points}
    assert all((t.model, t.point.key) in keys for t in TARGETS if t.point)
    assert Point(1, 1).threads == 1 and Point(1, 64).threads == 2
    assert Point(100, 16).label == "100 rows, c=16"


def test_markdown_has_ratios_failures_and_targets() -> None:
    records = [record("baseline", 1, 2000, 20), record("tiffin", 1, 0, 0, ok=False), record("ceiling", 1, 8000, 5)]
    summaries = report.summarize(records)
    iris = [m for m in MODELS if m.name == "iris"]
    c64 = next(t for t in TARGETS if t.point == Point(1, 64) and t.metric == "rps")
    verdicts = [report.judge(c64, summaries, selected("tiffin", "baseline", "ceiling"))]
    meta = {
        "date": "today",
        "machine": "2 CPUs",
        "wrk": "4.1.0",
        "runs": 1,
        "duration_s": 2.0,
        "warmup_s": 1.0,
        "heavy_model": "not run",
        "busy_warning": 0.1,
    }
    text = report.render_markdown(summaries, iris, ["tiffin", "baseline", "ceiling"], verdicts, meta)
    assert "| iris | 1 row, c=64 | ceiling | 8,000 | 4.00× | 10.0 | 1.00× | 5.00 | 0.25× |" in text
    assert "| iris | 1 row, c=64 | tiffin | failed |" in text
    assert "- FAIL iris, 1 row, c=64: tiffin req/s ≥ 1.5× the baseline's (not measured)" in text
    assert "- iris / tiffin: run 1: start: boom" in text


def test_verdict_lines_carry_units() -> None:
    summaries = report.summarize([record("tiffin", 1, 1, 1, ready_s=1.5, worker_rss_mb=70.0)])
    rss = Target("iris", "worker_rss_mb", "<=", 80, relative=False)
    line = report.judge(rss, summaries, selected("tiffin")).line()
    assert line == "PASS iris: tiffin peak RSS of each API worker ≤ 80 MB (measured 70.00 MB)"
