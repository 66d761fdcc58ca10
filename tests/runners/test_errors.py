import pytest

from runners.errors import (
    DeadlineExceeded,
    InvalidInput,
    RunnerError,
    RunnerOverloaded,
    RunnerUnavailable,
    UnknownMethod,
    UnsupportedMediaType,
)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (RunnerError, 500),
        (InvalidInput, 400),
        (UnknownMethod, 404),
        (UnsupportedMediaType, 415),
        (RunnerOverloaded, 503),
        (RunnerUnavailable, 503),
        (DeadlineExceeded, 504),
    ],
)
def test_errors_cross_the_wire_as_json_and_come_back_as_themselves(kind: type[RunnerError], status: int) -> None:
    err = kind("it broke", detail={"k": 1}, retry_after=2.0)
    body = err.to_dict()
    assert body == {"error": "it broke", "type": kind.__name__, "detail": {"k": 1}}
    back = RunnerError.from_dict(body, kind.status_code, retry_after=2.0)
    assert type(back) is kind and back.status_code == status
    assert (back.message, back.detail, back.retry_after) == ("it broke", {"k": 1}, 2.0)


def test_unknown_types_fall_back_to_the_status() -> None:
    assert type(RunnerError.from_dict({"error": "x", "type": "Weird"}, 404)) is UnknownMethod
    assert type(RunnerError.from_dict({}, 418)) is RunnerError
