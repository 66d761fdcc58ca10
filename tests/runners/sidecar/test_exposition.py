"""``runners.sidecar.exposition.page``: tiffin's registry and the model code's default-registry metrics."""

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from runners.sidecar import exposition
from runners.sidecar.runner_metrics import RunnerMetrics


@pytest.fixture
def model_counter() -> Iterator[Counter]:
    counter = Counter("exposition_test_tokens", "Tokens a model produced.", ["kind"])  # the default registry
    yield counter
    REGISTRY.unregister(counter)


def test_the_page_holds_the_runners_metrics_and_the_models_own(model_counter: Counter) -> None:
    registry = CollectorRegistry()
    RunnerMetrics(registry).for_method("iris", "predict").request(200, 0.01)
    model_counter.labels("word").inc(3)
    text = exposition.page(registry).decode()
    assert 'tiffin_runner_requests_total{method="predict",runner="iris",status="200"} 1.0' in text
    assert 'exposition_test_tokens_total{kind="word"} 3.0' in text
    assert text.count("# HELP tiffin_runner_requests_total") == 1
    assert exposition.page(REGISTRY).decode().count("# HELP exposition_test_tokens_total") == 1  # never twice
