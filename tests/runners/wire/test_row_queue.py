from collections.abc import Hashable
from dataclasses import dataclass, field

from runners.wire.row_queue import RowQueue


class Future:
    """What the queue asks of a caller's future: whether the caller still waits."""

    def __init__(self) -> None:
        self.cancelled = False

    def done(self) -> bool:
        return self.cancelled

    def cancel(self) -> None:
        self.cancelled = True


@dataclass(eq=False)
class Call:
    rows: int
    key: Hashable | None = "f8"
    deadline: float | None = None
    future: Future = field(default_factory=Future)


def queue_of(*calls: Call, max_rows: int = 8, scan_limit: int | None = None) -> RowQueue[Call]:
    queue: RowQueue[Call] = RowQueue(max_rows, scan_limit=scan_limit)
    for call in calls:
        queue.append(call)
    return queue


def test_takes_the_oldest_and_what_shares_its_layout_up_to_max_rows_keeping_the_rest_in_order() -> None:
    a, b, other, c, d = Call(3), Call(3), Call(1, key="i8"), Call(2), Call(1)
    queue = queue_of(a, b, other, c, d)
    assert queue.rows == 10
    assert queue.take(0.0, expired=lambda call: None) == [a, b, c]  # 8 rows: d would not fit
    assert queue.rows == 2 and list(queue.drain()) == [other, d]


def test_a_call_that_cannot_share_goes_alone() -> None:
    lone, after = Call(1, key=None), Call(1)
    queue = queue_of(lone, after)
    assert queue.take(0.0, expired=lambda call: None) == [lone]
    assert queue.take(0.0, expired=lambda call: None) == [after]


def test_abandoned_calls_are_dropped_and_expired_ones_handed_over() -> None:
    gone, late, live = Call(1), Call(1, deadline=5.0), Call(1, deadline=20.0)
    gone.future.cancel()
    expired: list[Call] = []
    queue = queue_of(gone, late, live)
    assert queue.take(10.0, expired=expired.append) == [live]
    assert expired == [late] and not queue and queue.rows == 0


def test_the_scan_stops_at_its_limit() -> None:
    first, *others = [Call(1, key=k) for k in ("a", "b", "c", "a")]
    queue = queue_of(first, *others, scan_limit=3)
    assert queue.take(0.0, expired=lambda call: None) == [first]  # the last "a" lies past the limit
    assert len(queue) == 3 and queue.oldest() is others[0]
