"""What a fault did to the load: outcomes by kind, the longest request, the time to recover.

Recovery is the first moment after the fault after which every request succeeded: the end of
the last failed request that ended after the fault (0 when none failed). It only counts as a
recovery when enough requests succeeded after it (``Timeline.settled``): a failure in the last
moments of the load means the server had not come back yet.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reliability.load import Outcome

KINDS = ("200", "503", "504", "other", "reset", "refused", "timeout", "wrong")
SETTLED_REQUESTS = 20  # successes after the recovery moment for it to count as one


def counts(outcomes: Sequence[Outcome]) -> Counter[str]:
    found: Counter[str] = Counter()
    for o in outcomes:
        kind = o.kind
        found[kind if kind in KINDS else "other"] += 1
    return found


def show_counts(found: Counter[str]) -> str:
    return ", ".join(f"{found[k]} {k}" for k in KINDS if found[k] or k == "200")


@dataclass(frozen=True)
class Timeline:
    fault_at: float
    outcomes: list[Outcome]

    @property
    def before(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.end < self.fault_at]

    @property
    def after(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.end >= self.fault_at]

    @property
    def failed_after(self) -> list[Outcome]:
        return [o for o in self.after if not o.ok]

    @property
    def recovered_at(self) -> float:
        failed = self.failed_after
        return max((o.end for o in failed), default=self.fault_at)

    @property
    def recovery(self) -> float:
        """Seconds from the fault to the moment after which every request succeeded."""
        return self.recovered_at - self.fault_at

    @property
    def settled(self) -> bool:
        moment = self.recovered_at
        later = [o for o in self.outcomes if o.start >= moment]
        return len(later) >= SETTLED_REQUESTS and all(o.ok for o in later)

    @property
    def longest(self) -> float:
        return max((o.seconds for o in self.outcomes), default=0.0)

    def between(self, start: float, end: float) -> list[Outcome]:
        """Requests that started and ended within ``[start, end]``."""
        return [o for o in self.outcomes if o.start >= start and o.end <= end]


def answered(log: Path, path: str = "/classify") -> int:
    """How many requests to ``path`` the server's access log says it answered."""
    needle = f'"path":"{path}"'
    with log.open(errors="replace") as lines:
        return sum(1 for line in lines if "tiffin.access" in line and needle in line)


def established(pid: int, port: int) -> int:
    """How many established TCP connections to local ``port`` the process ``pid`` holds."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    held = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                held += 1
        except OSError:
            continue
    return held
