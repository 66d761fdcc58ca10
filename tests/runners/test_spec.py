from pathlib import Path

import pytest

from runners.imports import ImportTargetError
from runners.spec import BatchingOptions, RunnerSpec, resolve

SAMPLES = Path(__file__).resolve().parent / "sample_runnables.py"


def test_a_spec_names_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        RunnerSpec("x")
    with pytest.raises(ValueError, match="exactly one"):
        RunnerSpec("x", model="m", runnable="a:B")
    with pytest.raises(ValueError, match="init_params"):
        RunnerSpec("x", model="m", init_params={"a": 1})
    with pytest.raises(ValueError, match="invalid runner name"):
        RunnerSpec("no spaces", model="m")


def test_batching_options_are_checked_and_coerced_from_yaml_shapes() -> None:
    assert BatchingOptions.coerce(None) == BatchingOptions()
    options = BatchingOptions.coerce({"max_batch_size": 8, "max_latency_ms": None, "enabled": False})
    assert options == BatchingOptions(enabled=False, max_batch_size=8)
    for bad in ({"max_batch_size": 0}, {"max_latency_ms": -1}, {"max_queue": 0}):
        with pytest.raises(ValueError):
            BatchingOptions.coerce(bad)
    with pytest.raises(TypeError):
        BatchingOptions.coerce({"max_batch": 3})


def test_specs_travel_as_json() -> None:
    spec = RunnerSpec.for_runnable("d", f"{SAMPLES}:Doubler", init_params={"delay": 1}, batching={"max_queue": 9})
    assert RunnerSpec.from_json(spec.to_json()) == spec
    model = RunnerSpec.for_model("iris", "iris_clf:latest", batching=BatchingOptions(max_batch_size=3))
    assert RunnerSpec.from_json(model.to_json()) == model


def test_resolve_a_runnable_without_loading_it() -> None:
    resolved = resolve(RunnerSpec("d", runnable=f"{SAMPLES}:Doubler", init_params={"delay": 0.1}))
    assert resolved.runnable_class.__name__ == "Doubler"
    assert resolved.init_params == {"delay": 0.1} and resolved.framework == "custom"
    assert resolved.methods["double"].batchable
    with pytest.raises(TypeError, match="not a runners.Runnable"):
        resolve(RunnerSpec("d", runnable="json:dumps"))
    with pytest.raises(ImportTargetError):
        resolve(RunnerSpec("d", runnable="no_such_module_here:Thing"))


def test_resolve_a_stored_model(iris_models: dict[str, str]) -> None:
    resolved = resolve(RunnerSpec("iris", model="iris_clf"))
    assert resolved.framework == "sklearn" and resolved.init_params == {"tag": iris_models["iris_clf"]}
    assert resolved.model is not None and str(resolved.model.tag) == iris_models["iris_clf"]
    assert set(resolved.methods) == {"predict"}


def test_workers_travel_with_the_spec_and_must_be_a_positive_whole_number() -> None:
    from runners.spec import InvalidOption

    spec = RunnerSpec.for_model("m", "m:v1", workers=3)
    assert RunnerSpec.from_json(spec.to_json()).workers == 3
    assert RunnerSpec("m", model="m:v1").workers == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidOption, match="workers"):
            RunnerSpec("m", model="m:v1", workers=bad)  # type: ignore[arg-type]
def test_threads_and_device_are_a_stored_models_and_reach_its_runnable(iris_models: dict[str, str]) -> None:
    spec = RunnerSpec.for_model("iris", "iris_clf", threads=2, device="cpu")
    assert RunnerSpec.from_json(spec.to_json()) == spec
    resolved = resolve(spec)
    assert resolved.init_params == {"tag": iris_models["iris_clf"], "threads": 2, "device": "cpu"}
    assert resolve(RunnerSpec("iris", model="iris_clf")).init_params == {"tag": iris_models["iris_clf"]}
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        RunnerSpec("x", model="m", threads=0)
    with pytest.raises(ValueError, match="device must be"):
        RunnerSpec("x", model="m", device="gpu")
    with pytest.raises(ValueError, match="apply to a stored model"):
        RunnerSpec("x", runnable="a:B", threads=1)
