"""What the benchmark runs: servers, models, load points and the targets they are judged by.

Adding a server is one line in ``SERVERS``: a command line with placeholders filled in at
start: ``{bin}`` (the venv's bin directory), ``{host}``, ``{port}`` (a free port) and
``{config}`` (the model's tiffin config file). Every server gets ``TIFFIN_HOME`` (the bench's
private model store), ``BENCH_MODEL`` (the stored model's name) and ``BENCH_ANSWERS`` (a JSON
file of request bodies and their answers) in its environment, runs with the repository as its
working directory, and must answer ``GET /readyz`` with 200 once it serves ``POST /classify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.models import HEAVY, IRIS


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: tuple[str, ...]
    body_field: str | None = None  # the JSON field the server wants the rows in (else the bare rows)
    peer: str | None = None  # run from this peer's own virtualenv (``bench.peers``): ``{bin}`` is its bin


GUNICORN = (
    "{bin}/gunicorn",
    "--workers=2",
    "--worker-class=uvicorn_worker.UvicornWorker",
    "--bind={host}:{port}",
    "--no-control-socket",
    "--log-level=warning",
)

SERVERS: tuple[ServerSpec, ...] = (
    ServerSpec("tiffin", ("{bin}/tiffin", "serve", "{config}", "--host={host}", "--port={port}", "--workers=2")),
    ServerSpec("baseline", (*GUNICORN, "bench.servers.baseline_app:app")),
    ServerSpec("ceiling", (*GUNICORN, "bench.servers.ceiling_app:app")),
)
# Other frameworks, only with ``--peers NAME``: each installs into its own virtualenv on first use.
PEER_SERVERS: tuple[ServerSpec, ...] = (
    ServerSpec(
        "bentoml",
        ("{bin}/bentoml", "serve", "bench.servers.bentoml_service:Classifier", "--host", "{host}", "--port", "{port}"),
        body_field="input",
        peer="bentoml",
    ),
)
BASELINE = "baseline"
SUBJECT = "tiffin"


@dataclass(frozen=True)
class Point:
    """One load level: this many rows per request body, this many wrk connections."""

    rows: int
    connections: int

    @property
    def key(self) -> str:
        return f"{self.rows}row-c{self.connections}"

    @property
    def label(self) -> str:
        rows = "1 row" if self.rows == 1 else f"{self.rows} rows"
        return f"{rows}, c={self.connections}"

    @property
    def threads(self) -> int:
        return 1 if self.connections == 1 else 2


@dataclass(frozen=True)
class ModelSpec:
    name: str  # short name in reports
    store_name: str  # name in the model store
    config: str  # tiffin config serving it, relative to the repository
    points: tuple[Point, ...]


SINGLE_ROW = (Point(1, 1), Point(1, 16), Point(1, 64))
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("iris", IRIS, "config/service.yaml", (*SINGLE_ROW, Point(100, 16))),
    ModelSpec("heavy", HEAVY, "bench/heavy.yaml", (*SINGLE_ROW, Point(100, 16))),
)

Metric = Literal["rps", "p50_ms", "p99_ms", "ready_s", "worker_rss_mb"]
NAMES: dict[str, str] = {
    "rps": "req/s",
    "p50_ms": "p50",
    "p99_ms": "p99",
    "ready_s": "start to ready",
    "worker_rss_mb": "peak RSS of each API worker",
}
UNITS: dict[str, str] = {"rps": " req/s", "p50_ms": " ms", "p99_ms": " ms", "ready_s": " s", "worker_rss_mb": " MB"}


@dataclass(frozen=True)
class Target:
    """A check on tiffin's median figure: relative ones divide it by the baseline's."""

    model: str
    metric: Metric
    op: Literal[">=", "<="]
    bound: float
    point: Point | None = None  # for load metrics; None for figures of the whole start
    relative: bool = True

    @property
    def unit(self) -> str:
        return "×" if self.relative else UNITS[self.metric]

    @property
    def text(self) -> str:
        where = f"{self.model}, {self.point.label}" if self.point else self.model
        op = "≥" if self.op == ">=" else "≤"
        bound = f"{self.bound:g}{self.unit}" + (" the baseline's" if self.relative else "")
        return f"{where}: {SUBJECT} {NAMES[self.metric]} {op} {bound}"


TARGETS: tuple[Target, ...] = (  # issue 14's table, and the memory and tail checks from before
    Target("iris", "p50_ms", "<=", 1.5, point=Point(1, 1)),
    Target("iris", "rps", ">=", 1.0, point=Point(1, 16)),
    Target("iris", "rps", ">=", 1.5, point=Point(1, 64)),
    Target("iris", "p99_ms", "<=", 1.5, point=Point(1, 64)),
    Target("iris", "rps", ">=", 1.0, point=Point(100, 16)),
    Target("heavy", "rps", ">=", 3.0, point=Point(1, 64)),
    Target("heavy", "rps", ">=", 1.0, point=Point(100, 16)),
    Target("iris", "ready_s", "<=", 1.2),
    Target("heavy", "ready_s", "<=", 1.2),
    Target("iris", "worker_rss_mb", "<=", 80, relative=False),
    Target("heavy", "worker_rss_mb", "<=", 80, relative=False),
)
