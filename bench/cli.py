"""``scripts/bench``: start each server, time it to ready, load it with wrk, stop it, report.

Exit status: 0 when every server ran clean and no target failed, 1 when a server failed to
start or answered wrongly (the others still run), 2 on bad usage, 3 when everything ran clean
but a target check failed.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from bench import chart, loadgen, models, peers, report
from bench.config import MODELS, PEER_SERVERS, SERVERS, SUBJECT, TARGETS, ModelSpec, ServerSpec
from bench.machine import BUSY_WARNING, describe, wait_idle, with_foreign_cpu
from bench.server import MB, Server, ServerFailed, free_port

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
HOST = "127.0.0.1"


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark tiffin against a hand-written FastAPI baseline and a bare ASGI ceiling.",
        epilog="Exit status: 0 all clean, 1 a server failed, 2 usage, 3 a target check failed.",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("BENCH_RUNS", "1")),
        help="repeat everything N times and report medians [1, env BENCH_RUNS]",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 s warm-up + 2 s per point, results under bench/.work/results"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds measured per point [15, env BENCH_DURATION]"
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of warm-up before each point [5, env BENCH_WARMUP]"
    )
    parser.add_argument(
        "--servers", default=",".join(s.name for s in SERVERS), help="comma-separated servers to run [%(default)s]"
    )
    parser.add_argument(
        "--peers",
        default=os.environ.get("BENCH_PEERS", ""),
        help="comma-separated other frameworks to run beside them, each installed into its own virtualenv "
        f"under bench/.cache on first use: {', '.join(s.name for s in PEER_SERVERS)} [none, env BENCH_PEERS]",
    )
    parser.add_argument(
        "--models", default=",".join(m.name for m in MODELS), help="comma-separated models to run [%(default)s]"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for results.md/.json/.png [bench/results; --quick: bench/.work/results]",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="RESULTS_JSON",
        help="measure nothing: rewrite results.md and results.png (into --out) from a results.json",
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=60.0, help="seconds a server gets to answer /readyz 200 [%(default)s]"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=env_float("BENCH_WAIT_IDLE", 0.0),
        help="before each server start, wait up to this many seconds for other processes to use under "
        f"{BUSY_WARNING * 100:.0f}%% of the CPUs (a shared machine) [0: do not wait, env BENCH_WAIT_IDLE]",
    )
    parser.add_argument(
        "--wrk-timeout",
        type=float,
        default=5.0,
        help="wrk's per-request timeout in seconds; a timeout is an error [%(default)s]",
    )
    args = parser.parse_args(argv)
    quick_duration, quick_warmup = (2.0, 1.0) if args.quick else (15.0, 5.0)
    if args.duration is None:
        args.duration = env_float("BENCH_DURATION", quick_duration)
    if args.warmup is None:
        args.warmup = env_float("BENCH_WARMUP", quick_warmup)
    if args.out is None and args.from_json is not None:
        args.out = args.from_json.parent
    elif args.out is None:
        args.out = WORK / "results" if args.quick else REPO / "bench" / "results"
    if args.runs < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--runs and --duration must be at least 1, --warmup at least 0")
    args.server_specs = pick(parser, args.servers, SERVERS, "server")
    if args.peers.strip():
        args.server_specs += pick(parser, args.peers, PEER_SERVERS, "peer")
    args.model_specs = pick(parser, args.models, MODELS, "model")
    return args


def pick(parser: argparse.ArgumentParser, names: str, table: Sequence[Any], kind: str) -> list[Any]:
    known = {item.name: item for item in table}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        parser.error(f"unknown {kind} {', '.join(unknown) or '(none)'}; choose from {', '.join(known)}")
    return [item for item in table if item.name in wanted]


def log(message: str) -> None:
    print(message, flush=True)


def prepare_models(specs: Sequence[ModelSpec], venv_bin: Path) -> tuple[dict[str, dict[int, models.Payload]], str]:
    """Store every model in the bench's TIFFIN_HOME; return the payloads per model and row count."""
    payloads: dict[str, dict[int, models.Payload]] = {}
    heavy_note = ""
    store = "tiffin's model store" if models.store_available() else "bench fallback (no runners.sklearn yet)"
    for spec in specs:
        train_script = REPO / "scripts" / "train-iris"
        if spec.store_name == models.IRIS and train_script.exists():
            env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
            done = subprocess.run([str(train_script)], cwd=REPO, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"bench: scripts/train-iris failed ({done.returncode}):\n{done.stderr[-2000:]}")
            where = "scripts/train-iris"
        else:
            where = models.save_model(spec.store_name, models.TRAINERS[spec.store_name]())
        clf = models.load_model(spec.store_name)
        rows = sorted({point.rows for point in spec.points})
        payloads[spec.name] = {n: models.payload(spec.store_name, clf, n) for n in rows}
        cost = models.predict_seconds(clf, models.request_rows(spec.store_name, 1))
        log(f"model {spec.name}: {spec.store_name} via {store} ({where}); single-row predict {cost * 1000:.2f} ms")
        if spec.store_name == models.HEAVY:
            heavy_note = f"random forest of {models.HEAVY_TREES} trees, {cost * 1000:.1f} ms per single-row predict"
        answers = [[p.body.decode(), p.expected.decode()] for p in payloads[spec.name].values()]
        (WORK / f"answers-{spec.name}.json").write_text(json.dumps(answers))
    return payloads, heavy_note


def server_env(spec: ModelSpec, venv_bin: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": pythonpath,
        "TIFFIN_HOME": os.environ["TIFFIN_HOME"],
        "BENCH_MODEL": spec.store_name,
        "BENCH_ANSWERS": str(WORK / f"answers-{spec.name}.json"),
    }


def relative(text: str) -> str:
    """Paths inside the repository written relative to it, for results worth committing."""
    return text.replace(f"{REPO}{os.sep}", "")


def run_server(
    run: int,
    model: ModelSpec,
    spec: ServerSpec,
    payloads: dict[int, models.Payload],
    *,
    args: argparse.Namespace,
    venv_bin: Path,
) -> dict[str, Any]:
    """One start of one server with one model: ready time, every load point, memory."""
    record: dict[str, Any] = {
        "run": run,
        "model": model.name,
        "server": spec.name,
        "ok": False,
        "error": None,
        "ready_s": None,
        "points": {},
    }
    port = free_port(HOST, span=3)  # tiffin serve: the API, then each runner's port
    bin_dir = peers.PEERS[spec.peer].bin if spec.peer else venv_bin
    fields = {"bin": str(bin_dir), "host": HOST, "port": str(port), "config": model.config}
    payloads = {rows: wrapped(payload, spec.body_field) for rows, payload in payloads.items()}
    argv = [arg.format(**fields) for arg in spec.argv]
    record["argv"] = [relative(arg) for arg in argv]
    name = f"{model.name}/{spec.name}"
    server = Server(
        name,
        argv,
        env=server_env(model, venv_bin),
        cwd=REPO,
        log_path=WORK / "logs" / f"run{run}-{model.name}-{spec.name}.log",
        host=HOST,
        port=port,
    )
    stage = "start"
    try:
        server.start()
        record["ready_s"] = server.wait_ready(args.ready_timeout)
        log(f"  {name}: ready in {record['ready_s']:.2f} s on port {port}")
        for payload in payloads.values():
            server.check_answer(payload.body, payload.expected)
        url = f"http://{HOST}:{port}/classify"
        for point in model.points:
            stage = point.label
            scratch = WORK / "wrk" / name.replace("/", "-")
            drive = functools.partial(
                loadgen.run_wrk, url, payloads[point.rows], point, workdir=scratch, timeout_s=args.wrk_timeout
            )
            if args.warmup > 0:
                drive(args.warmup)
            result, foreign = with_foreign_cpu(server, functools.partial(drive, args.duration))
            record["points"][point.key] = {**result.to_dict(point.connections), "foreign_cpu": round(foreign, 3)}
            busy = f"; other processes used {foreign:.0%} of the CPUs" if foreign > BUSY_WARNING else ""
            log(
                f"  {name} {point.label}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                f"p99 {result.p99_ms:.2f} ms{busy}"
            )
        record["ok"] = True
    except (ServerFailed, loadgen.LoadError) as exc:
        record["error"] = f"{stage}: {exc}"
        log(f"  {name} FAILED at {stage}: {exc}")
    finally:
        stopping = time.monotonic()
        notes = server.stop()
        record["stop_s"] = round(time.monotonic() - stopping, 2)
        memory = server.memory
        record["tree_rss_mb"] = memory.tree_peak / MB if memory.samples else None
        record["worker_rss_mb"] = memory.worker_peak / MB if memory.workers_seen else None
        record["workers"] = len(memory.workers_seen) if memory.workers_seen else None
        record["processes"] = [
            {
                "pid": pid,
                "peak_rss_mb": round(peak / MB, 1),
                "api_worker": pid in memory.workers_seen,
                "cmdline": relative(server.cmdlines.get(pid, "")),
            }
            for pid, peak in sorted(memory.per_process_peak.items())
        ]
        if notes:
            for note in notes:
                log(f"  {note}")
            if record["ok"]:
                record["ok"] = False
                record["error"] = "stop: " + "; ".join(notes)
    if record["tree_rss_mb"] is not None:
        workers = (
            ""
            if record["worker_rss_mb"] is None
            else f", largest of {record['workers']} API workers {record['worker_rss_mb']:.0f} MB"
        )
        log(f"  {name}: peak RSS {record['tree_rss_mb']:.0f} MB{workers}")
    return record


def wrapped(payload: models.Payload, field: str | None) -> models.Payload:
    """The payload with its rows under ``field`` in a JSON object, for servers that name their input."""
    if field is None:
        return payload
    body = b'{"' + field.encode() + b'":' + payload.body + b"}"
    return models.Payload(payload.rows, body, payload.expected)


def raise_interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def measure(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """Run everything; the run records and the run's metadata, or None when interrupted."""
    venv_bin = Path(os.environ.get("TIFFIN_VENV", REPO / ".venv")).resolve() / "bin"
    if not venv_bin.is_dir():
        venv_bin = Path(sys.executable).parent
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "home").mkdir(parents=True)
    os.environ["TIFFIN_HOME"] = str(WORK / "home")
    servers = [s.name for s in args.server_specs]
    points = sum(len(m.points) for m in args.model_specs) * len(servers)
    estimate = args.runs * points * (args.duration + args.warmup)
    log(
        f"bench: {args.runs} run(s) × {points} points × ({args.warmup:g} + {args.duration:g} s), "
        f"about {estimate / 60:.1f} min of load; load average {os.getloadavg()[0]:.2f}; "
        f"servers {', '.join(servers)}; TIFFIN_HOME={WORK / 'home'}"
    )
    for spec in args.server_specs:
        if spec.peer:
            peers.ensure(peers.PEERS[spec.peer], log)
    payloads, heavy_note = prepare_models(args.model_specs, venv_bin)
    records: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            for model in args.model_specs:
                log(f"run {run}/{args.runs}, model {model.name}")
                for spec in args.server_specs:
                    busy = wait_idle(args.wait_idle)
                    if busy is not None:
                        log(f"  machine still busy ({busy:.0%} of the CPUs) after {args.wait_idle:g} s; going on")
                    records.append(run_server(run, model, spec, payloads[model.name], args=args, venv_bin=venv_bin))
    except KeyboardInterrupt:
        return None
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": describe(),
        "wrk": loadgen.wrk_version(),
        "runs": args.runs,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "heavy_model": heavy_note or "not run",
        "busy_warning": BUSY_WARNING,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    return records, meta


def publish(records: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> int:
    """Write results.md/.json/.png, print the table and the target checks; the exit status."""
    model_specs = [m for m in MODELS if any(r["model"] == m.name for r in records)]
    servers = [s.name for s in (*SERVERS, *PEER_SERVERS) if any(r["server"] == s.name for r in records)]
    summaries = report.summarize(records)
    selected = {(r["model"], r["server"]) for r in records}
    verdicts = [report.judge(t, summaries, selected) for t in TARGETS if (t.model, SUBJECT) in selected]
    markdown = report.render_markdown(summaries, model_specs, servers, verdicts, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(markdown)
    document = {
        "meta": meta,
        "summaries": [vars(s) for s in summaries.values()],
        "targets": [vars(v) for v in verdicts],
        "records": records,
    }
    (out / "results.json").write_text(json.dumps(document, indent=1))
    title = f"tiffin vs baseline vs ceiling — {meta['machine']}, medians of {meta['runs']} run(s)"
    note = "bar labels: ratio to the baseline measured in the same invocation"
    if report.busy_points(summaries, meta):
        note += "; other processes were busy during some points, see results.md"
    chart.draw(summaries, model_specs, servers, title=title, note=note, path=out / "results.png")

    log("")
    log(markdown)
    log(f"bench: wrote {out / 'results.md'}, results.json, results.png; server logs in {WORK / 'logs'}")
    for verdict in verdicts:
        log(verdict.line())
    failed = [r for r in records if not r["ok"]]
    for record in failed:
        first = (record["error"] or "").splitlines()[0]
        log(f"bench: FAILED {record['model']}/{record['server']} (run {record['run']}): {first}")
    if failed:
        return 1
    if any(v.status == "FAIL" for v in verdicts):
        log("bench: a target check failed")
        return 3
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        document = json.loads(args.from_json.read_text())
        return publish(document["records"], document["meta"], args.out)
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        loadgen.wrk_path()
    except loadgen.LoadError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    measured = measure(args)
    if measured is None:
        log("bench: interrupted; servers stopped, nothing written")
        return 130
    return publish(*measured, args.out)
