"""``tiffin healthcheck URL``: the container health check, on the standard library alone."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def healthcheck(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (URL given by the operator)
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"tiffin healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
