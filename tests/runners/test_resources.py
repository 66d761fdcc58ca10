import pytest

from runners.resources import Resources


@pytest.mark.parametrize(
    ("given", "cpu", "threads"),
    [(None, None, None), ({"cpu": 2}, 2.0, 2), ({"cpu": "2"}, 2.0, 2), ({"cpu": "500m"}, 0.5, 1), ({"cpu": 1.5}, 1.5, 2)],
)
def test_cpu_share_and_threads(given: dict[str, object] | None, cpu: float | None, threads: int | None) -> None:
    resources = Resources.parse(given)
    assert (resources.cpu, resources.threads) == (cpu, threads)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"memory": "1Gi"}, "'memory' cannot be honoured"),
        ({"gpu": 1}, "'gpu' cannot be honoured"),
        ({"cpu": "two"}, "cpu should be a number"),
        ({"cpu": 0}, "more than 0"),
        ({"cpu": "nan"}, "more than 0"),
    ],
)
def test_what_cannot_be_honoured_is_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Resources.parse(given)
