import asyncio
import datetime
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runners
from runners.errors import DeadlineExceeded, RunnerUnavailable
from runners.runner import Runner
from runners.spec import BatchingOptions, RunnerSpec, url_variable
from runners.wire import deadline
from tests.waiting import wait_until

SAMPLES = Path(__file__).resolve().parent / "sample_runnables.py"
PROBE = np.array([[5.9, 3.0, 5.1, 1.8]])


def test_methods_are_attributes_with_run_and_async_run(samples: Any) -> None:
    runner = Runner(samples.Doubler, name="doubler", runnable_init_params={"delay": 0.0})
    assert runner.name == "doubler"
    assert set(runner.methods) == {"double", "column_sums", "echo", "hold", "sleep", "crash"}
    assert runner.double is runner.methods["double"] and runner.double.config.batchable
    assert callable(runner.double.run) and callable(runner.double.async_run)
    with pytest.raises(AttributeError, match="no method 'predict'"):
        runner.predict  # noqa: B018
    assert Runner(samples.Doubler).name == "doubler"


def test_only_runnables_with_methods_make_runners() -> None:
    class Empty(runners.Runnable):
        pass

    with pytest.raises(TypeError):
        Runner(object)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no @runners.method"):
        Runner(Empty)


def test_method_configs_override_the_class(samples: Any) -> None:
    runner = Runner(samples.Doubler, method_configs={"echo": {"batchable": True}})
    assert runner.echo.config.batchable
    with pytest.raises(ValueError, match="does not expose"):
        Runner(samples.Doubler, method_configs={"nope": {}})


def test_url_from_configure_else_the_environment(samples: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert url_variable("iris_clf") == "TIFFIN_RUNNER_IRIS_CLF_URL"
    assert url_variable("text-summarizer2") == "TIFFIN_RUNNER_TEXT_SUMMARIZER2_URL"
    assert url_variable("iris-clf.v2") == "TIFFIN_RUNNER_IRIS_CLF_V2_URL"
    runner = Runner(samples.Doubler, name="my-doubler")
    assert runner.url is None
    monkeypatch.setenv("TIFFIN_RUNNER_MY_DOUBLER_URL", "http://a:1")
    assert runner.url == "http://a:1"
    runner.configure(url="http://b:2", timeout=3.0)
    assert runner.url == "http://b:2"


def test_without_a_url_calls_say_how_to_give_one(samples: Any) -> None:
    runner = Runner(samples.Doubler, name="nowhere")
    with pytest.raises(RunnerUnavailable) as caught:
        runner.echo.run(1)
    assert "TIFFIN_RUNNER_NOWHERE_URL" in str(caught.value.detail)
    assert asyncio.run(runner.is_ready()) is False


def test_init_local_runs_the_model_in_process(samples: Any) -> None:
    runner = Runner(samples.Doubler, name="local")
    runner.init_local()
    assert runner.double.run(np.ones((2, 1))).tolist() == [[2.0], [2.0]]
    assert runner.echo.run(value="kw") == "kw"  # in process, any arguments

    async def main() -> None:
        assert await runner.is_ready()
        await runner.startup()
        assert (await runner.double.async_run(np.ones(1))).tolist() == [2.0]
        assert runner.double.run(np.ones(1)).tolist() == [2.0]  # allowed on the loop: nothing waits on it

    asyncio.run(main())


def test_the_spec_says_how_a_sidecar_serves_it(samples: Any, iris_models: dict[str, str]) -> None:
    runner = Runner(samples.Doubler, name="d", runnable_init_params={"delay": 0.5}, max_batch_size=8, max_latency_ms=2)
    spec = runner.spec()
    assert spec.runnable == f"{SAMPLES}:Doubler" and spec.init_params == {"delay": 0.5}
    assert (spec.batching.max_batch_size, spec.batching.max_latency_ms) == (8, 2)
    assert runner.spec(batching={"max_batch_size": 4, "enabled": False}).batching == BatchingOptions(
        enabled=False, max_batch_size=4
    )
    iris = runners.sklearn.get("iris_clf:latest").to_runner(name="iris")
    assert iris.spec() == RunnerSpec("iris", model=iris_models["iris_clf"])


def test_a_value_that_cannot_be_sent_is_refused_before_connecting_naming_it(samples: Any) -> None:
    runner = Runner(samples.Doubler, name="remote")
    runner.configure(url="http://127.0.0.1:9")  # nothing listens: reaching it would be RunnerUnavailable
    with pytest.raises(TypeError, match=r"remote\.echo\(\) argument 1 cannot be sent.*set"):
        runner.echo.run(1, {2})
    with pytest.raises(TypeError, match=r"remote\.echo\(\) argument 'when' cannot be sent.*datetime"):
        runner.echo.run(value=1, when=datetime.datetime.now())


def test_sync_and_async_calls_to_a_sidecar(iris_sidecar: Any) -> None:
    runner = runners.sklearn.get("iris_clf:latest").to_runner()
    runner.configure(url=iris_sidecar.url)
    # (b) a plain script, no loop: the private background loop does the I/O
    assert runner.predict.run(PROBE).tolist() == [2]

    async def main() -> None:
        await runner.startup()
        assert await runner.is_ready()
        assert (await runner.predict.async_run(PROBE)).tolist() == [2]
        # (a) worker threads while this loop runs: submitted to the loop captured by startup()
        threads = await asyncio.gather(*(asyncio.to_thread(runner.predict.run, PROBE) for _ in range(8)))
        assert [r.tolist() for r in threads] == [[2]] * 8
        # (c) on the loop's own thread: refused, it would deadlock
        with pytest.raises(RuntimeError, match="async_run"):
            runner.predict.run(PROBE)
        await runner.shutdown()

    asyncio.run(main())


def test_the_deadline_travels_with_sync_calls_from_threads(doubler_sidecar: Any, samples: Any, scrape: Any) -> None:
    runner = Runner(samples.Doubler, name="doubler")
    runner.configure(url=doubler_sidecar.url)
    computed = 'tiffin_runner_inference_duration_seconds_count{method="sleep",runner="doubler"}'
    before = scrape(doubler_sidecar.url).get(computed, 0.0)
    outcome: list[Any] = []

    def worker() -> None:
        with deadline.scope(time.time() + 0.3):
            try:
                runner.sleep.run(2.0)
            except DeadlineExceeded as exc:
                outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert outcome, "the call did not end at its deadline"
    # it ended at the deadline, while the runner still sleeps, not once the answer came
    assert scrape(doubler_sidecar.url).get(computed, 0.0) == before
    wait_until(
        lambda: scrape(doubler_sidecar.url).get(computed, 0.0) == before + 1,
        message="the runner finishing the sleep its caller gave up on",
    )
    with deadline.scope(time.time() - 1), pytest.raises(DeadlineExceeded):
        runner.echo.run(1)


def test_concurrent_calls_of_a_batchable_method_share_requests_unless_batching_is_off(
    doubler_sidecar: Any, samples: Any, scrape: Any
) -> None:
    key = 'tiffin_runner_requests_total{method="double",runner="doubler",status="200"}'
    inputs = [np.full((1, 2), float(i)) for i in range(60)]

    def requests_for(batching: dict[str, Any]) -> int:
        runner = Runner(samples.Doubler, name="doubler")
        runner.configure(url=doubler_sidecar.url, batching=batching)
        before = scrape(doubler_sidecar.url).get(key, 0.0)

        async def main() -> list[Any]:
            await runner.startup()
            try:
                return await asyncio.gather(*(runner.double.async_run(x) for x in inputs))
            finally:
                await runner.shutdown()

        results = asyncio.run(main())
        assert [r.tolist() for r in results] == [(x * 2).tolist() for x in inputs]
        return int(scrape(doubler_sidecar.url)[key] - before)

    assert requests_for({"max_batch_size": 32}) < len(inputs) / 2
    assert requests_for({"enabled": False}) == len(inputs)
    runner = Runner(samples.Doubler, name="doubler")
    runner.configure(batching={"max_batch_size": 8})
    assert runner.batching == BatchingOptions(max_batch_size=8)


def test_workers_or_workers_per_resource_say_how_many_processes_serve_it(samples: Any) -> None:
    from runners.runner import worker_count

    assert Runner(samples.Doubler).workers == 1
    assert Runner(samples.Doubler, workers=3).spec().workers == 3
    assert worker_count(None, 0.5, cpus=4) == 2  # BentoML's name: workers per CPU
    assert worker_count(None, 0.1, cpus=2) == 1
    with pytest.raises(ValueError, match="not both"):
        Runner(samples.Doubler, workers=2, workers_per_resource=1)
    with pytest.raises(ValueError, match="at least 1"):
        Runner(samples.Doubler, workers=0)
def test_run_is_the_default_method_as_in_bentoml(tmp_path: Path) -> None:
    import torch

    from runners.store.model_store import ModelStore
    from tests.runners.nets import MLP

    store = ModelStore(tmp_path)
    torch.manual_seed(0)
    net = MLP()
    x = np.random.default_rng(0).random((3, 4))
    called = runners.pytorch.save_model("net", net, store=store).to_runner()
    assert called.default_method is called.methods["__call__"]
    called.init_local()  # from the store the model is in
    assert np.array_equal(called.run(x), called.__call__.run(x))

    two = runners.pytorch.save_model("two", net, store=store, signatures={"forward": {}, "embed": {}}).to_runner()
    assert two.default_method is None
    with pytest.raises(AttributeError, match="two.forward.run, two.embed.run"):
        two.run(x)


def test_a_method_named_run_is_reached_both_ways(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    from runners.store.model_store import ModelStore

    graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["y"])],
        "neg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
    )
    store = ModelStore(tmp_path)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    runner = runners.onnx.save_model("neg", model, store=store).to_runner()
    runner.init_local()
    x = np.ones((1, 2), dtype=np.float32)
    assert runner.run.run(x).tolist() == runner.run(x).tolist() == [[-1.0, -1.0]]
