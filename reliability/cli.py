"""``scripts/reliability [--short] [--only SECTION,...]``: run the sections, print and write the table.

Exit status: 0 when every check passed, 1 when one failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

from reliability.report import SECTIONS, Figure, failures, table, write
from reliability.target import REPO, Run

# Each section is a module ``reliability.<name>`` with ``run(run: Run) -> list[Figure]``.


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="small counts: the test suite's mode")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections [%(default)s]")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where reliability.md and .json go [bench/results, or bench/.work/results with --short]",
    )
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def run_section(name: str, run: Run) -> list[Figure]:
    module = importlib.import_module(f"reliability.{name}")
    started = time.monotonic()
    try:
        figures: list[Figure] = module.run(run)
    except Exception as exc:  # a section that breaks is a failed check, and the others still run
        figures = [Figure(name, "the section ran to its end", f"raised {type(exc).__name__}: {exc}", False)]
    print(f"reliability: {name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    out = args.out or REPO / "bench" / (".work/results" if args.short else "results")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="tiffin-reliability-") as work:
        run = Run(Path(work), short=args.short)
        for name in args.sections:
            figures += run_section(name, run)
    command = "scripts/reliability " + shlex.join(sys.argv[1:] if argv is None else argv)
    meta = {
        "command": command.strip(),
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
    }
    record, markdown = write(out, args.sections, figures, meta)
    print(table(figures))
    print(f"reliability: wrote {markdown} and {record}", file=sys.stderr)
    return 1 if failures(figures) else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
