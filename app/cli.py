"""The ``tiffin`` command: api, serve, runner, models, healthcheck.

Imports are made inside the commands: ``tiffin api`` must export the metrics directory before
anything imports prometheus-client, and ``tiffin healthcheck`` must start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _add_server_args(parser: argparse.ArgumentParser, *, workers: bool, default_port: str) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        help="a YAML config file, or a Python service as FILE.py:NAME or package.module:NAME",
    )
    parser.add_argument("--config", help="YAML configuration [$TIFFIN_CONFIG, else config/service.yaml]")
    parser.add_argument("--host", help="address to listen on [server.host]")
    parser.add_argument("--port", type=int, help=f"port to listen on [{default_port}]")
    if workers:
        parser.add_argument("--workers", type=int, help="uvicorn worker processes [server.workers]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiffin", description="Serve models over HTTP.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    api = commands.add_parser("api", help="run the API server (gunicorn + uvicorn workers)")
    _add_server_args(api, workers=True, default_port="server.port, 3000")

    serve = commands.add_parser("serve", help="run the runner sidecars and the API server together")
    _add_server_args(serve, workers=True, default_port="server.port, 3000")

    runner = commands.add_parser("runner", help="run one runner sidecar")
    runner.add_argument("name", help="the runner's name")
    _add_server_args(runner, workers=False, default_port="3001")
    source = runner.add_mutually_exclusive_group()
    source.add_argument("--model", help="serve this stored model tag (no config needed)")
    source.add_argument("--runnable", help="serve this runners.Runnable, as package.module:Class or FILE.py:Class")
    source.add_argument(
        "--spec", help="the whole runner spec as JSON (what `tiffin serve` passes): no config file is read"
    )
    runner.add_argument("--init-params", help="JSON object of keyword arguments for --runnable")
    runner.add_argument(
        "--workers",
        type=int,
        help="worker processes, each with its own model copy, sharing the port [runners.<name>.workers, 1]",
    )
    runner.add_argument(
        "--uds",
        help="also listen on this Unix socket, for API workers on the same machine "
        "(with several workers, one each: NAME-0.sock, NAME-1.sock, ...)",
    )
    runner.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one worker of a supervised pool
    runner.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # the pool's listening socket, inherited
    runner.add_argument("--graceful-timeout", type=float, help="seconds to drain on SIGTERM [server.graceful_timeout]")
    runner.add_argument("--log-level", help="[logging.level]")

    commands.add_parser(
        "healthcheck", help="exit 0 if URL answers 200 (for container health checks)", parents=[_healthcheck_parser()],
        add_help=False,
    )

    from runners.store.cli import add_commands

    add_commands(commands)
    return parser


def split_target(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(config path, service import path) from the positional argument and --config."""
    target, config = args.target, args.config
    if target and target.endswith((".yaml", ".yml")):
        if config and config != target:
            raise SystemExit("tiffin: give the config file once, as --config or as the argument")
        return target, None
    return config, target


def load(args: argparse.Namespace, *, port_key: str | None = "server.port") -> Any:
    from app.config.schema import load_config

    path, service = split_target(args)
    overrides: dict[str, Any] = {}
    if service:
        overrides["service"] = service
    if args.host:
        overrides["server.host"] = args.host
    if args.port is not None and port_key:
        overrides[port_key] = args.port
    if getattr(args, "workers", None) is not None:
        overrides["server.workers"] = args.workers
    return load_config(path, overrides=overrides, default_file=service is None)


def _healthcheck_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiffin healthcheck", description="exit 0 if URL answers 200")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:3000/readyz")
    parser.add_argument("--timeout", type=float, default=3.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["healthcheck"]:  # the container health check: standard library only, fast
        from app.process.healthcheck import healthcheck

        health_args = _healthcheck_parser().parse_args(argv[1:])
        return healthcheck(health_args.url, health_args.timeout)
    args = build_parser().parse_args(argv)
    if args.command == "runner" and args.spec is not None:  # without the configuration layer: a faster start
        from app.process.launch import run_runner_spec

        return run_runner_spec(args)
    from app.config.schema import ConfigError

    try:
        if args.command == "api":
            from app.process.launch import run_api

            return run_api(load(args))
        if args.command == "serve":
            from app.process.launch import run_serve

            return run_serve(load(args))
        if args.command == "runner":
            from app.process.launch import run_runner

            return run_runner(load(args, port_key=None), args)
        return int(args.func(args) or 0)
    except ConfigError as exc:
        from app.process.launch import EXIT_START_FAILED

        print(f"tiffin: {exc}", file=sys.stderr)
        return EXIT_START_FAILED


if __name__ == "__main__":
    sys.exit(main())
