"""``python -m runners serve --model iris_clf:latest --name iris_clf --port 3001``, and
``python -m runners models list|get|delete|import``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from runners.store import cli as commands
from runners.spec import BatchingOptions, RunnerSpec

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"  # as tiffin's other processes


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run a runner sidecar")
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="tag of a stored model, e.g. iris_clf:latest")
    source.add_argument("--runnable", help="a runners.Runnable as package.module:Class or file.py:Class")
    serve.add_argument("--name", help="runner name [the model's name, or the class name lower-cased]")
    serve.add_argument(
        "--init-params", type=_json_object, default={}, help="JSON object of keyword arguments for the runnable"
    )
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3001)
    serve.add_argument("--uds", help="also listen on this Unix socket (for API workers on the same machine)")
    serve.add_argument("--no-batching", action="store_true")
    serve.add_argument("--max-batch-size", type=int, default=BatchingOptions.max_batch_size)
    serve.add_argument("--max-latency-ms", type=float, default=BatchingOptions.max_latency_ms)
    serve.add_argument("--max-queue", type=int, default=BatchingOptions.max_queue)
    serve.add_argument("--threads", type=int, help="a stored model's intra-op threads [the CPUs this process may use]")
    serve.add_argument("--device", help="a stored model's device: cpu, cuda or cuda:N [cpu]")
    serve.add_argument("--graceful-timeout", type=float, default=30.0)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _serve(args: argparse.Namespace) -> int:
    from runners.sidecar.server import serve

    name = args.name or (args.model.partition(":")[0] if args.model else args.runnable.rpartition(":")[2].lower())
    try:
        spec = RunnerSpec(
            name,
            model=args.model,
            runnable=args.runnable,
            init_params=args.init_params,
            batching=BatchingOptions(
                enabled=not args.no_batching,
                max_batch_size=args.max_batch_size,
                max_latency_ms=args.max_latency_ms,
                max_queue=args.max_queue,
            ),
            threads=args.threads,
            device=args.device,
        )
    except ValueError as exc:
        print(f"python -m runners serve: {exc}", file=sys.stderr)
        return 2
    # uvicorn's loggers go through the root logger too (log_config=None below), in the same format
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("uvicorn.access").disabled = True
    return serve(
        spec,
        args.host,
        args.port,
        uds=args.uds,
        log_level=args.log_level,
        log_config=None,
        graceful_timeout=args.graceful_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    # The sidecar keeps its metrics in its own registry; multiprocess files meant for an API
    # server's workers (inherited through the environment) must not capture them.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.pop("prometheus_multiproc_dir", None)
    parser = argparse.ArgumentParser(prog="python -m runners")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_serve(subparsers)
    commands.add_commands(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
