"""``target.serve`` that tries again when the free port it chose was taken before the server bound it.

Other runs on the machine pick free ports too; between the pick and the bind one may win. That
is the machine's race, not a finding, so a start that fails with EADDRINUSE is tried anew on
another port (at most ``ATTEMPTS`` times); any other failure is reported at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from bench.server import ServerFailed
from reliability.target import Run, Target, serve

ATTEMPTS = 3


@contextlib.contextmanager
def serving(
    run: Run,
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    service: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Target]:
    for attempt in range(1, ATTEMPTS + 1):
        started = serve(run, name, config, service=service, env=env)
        try:
            target = started.__enter__()
        except ServerFailed as exc:
            if "Address already in use" in str(exc) and attempt < ATTEMPTS:
                continue
            raise
        break
    try:
        yield target
    finally:
        started.__exit__(None, None, None)
