"""runners.pytorch: weights in safetensors, modules rebuilt from their class; TorchScript."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_iris

import runners
from runners.adapter import UntrustedArtifact
from runners.store.model_store import ModelCorrupted, StoreError
from tests.runners.nets import MLP, Tied, Unscriptable, train_mlp
from tests.runners.served import batches_run, post, post_concurrently, serve_model
from tests.runners.tamper import edit_options, flip_byte, pickle_payload, replace_artifact

X, Y = load_iris(return_X_y=True)


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    """Loading a model sets torch's (process-wide) threads; the references here are computed on one:
    OpenMP's spinning threads crawl on a shared, oversubscribed machine."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def mlp() -> MLP:
    return train_mlp(torch.tensor(X, dtype=torch.float32), torch.tensor(Y))


def reference(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out: np.ndarray = model(torch.tensor(x, dtype=torch.float32)).numpy()
        return out


def test_a_module_round_trips_through_safetensors(mlp: MLP) -> None:
    stored = runners.pytorch.save_model("mlp", mlp, init_kwargs={"inputs": 4, "hidden": 16, "outputs": 3})
    assert stored.info.artifact == "model.safetensors"
    assert stored.info.options["module"] == "tests.runners.nets:MLP"
    assert stored.info.signatures["__call__"].batchable
    loaded = runners.pytorch.load_model(stored.tag, threads=1)
    assert type(loaded) is MLP and not loaded.training and torch.get_num_threads() == 1
    assert np.array_equal(reference(loaded, X), reference(mlp, X))

    instance = runners.pytorch.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    assert np.array_equal(instance(X), reference(mlp, X))  # float64 in, cast to the weights' float32


def test_other_methods_and_tied_weights() -> None:
    torch.manual_seed(1)
    mlp = MLP()
    stored = runners.pytorch.save_model("mlp_embed", mlp, signatures={"embed": {"batchable": True}})
    instance = runners.pytorch.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    with torch.inference_mode():
        assert np.array_equal(instance.embed(X), mlp.embed(torch.tensor(X, dtype=torch.float32)).numpy())

    tied = Tied()
    loaded = runners.pytorch.load_model(runners.pytorch.save_model("tied", tied).tag)
    assert loaded.head.weight.data_ptr() == loaded.embedding.weight.data_ptr()
    tokens = torch.tensor([[1, 2, 3]])
    with torch.inference_mode():
        assert torch.equal(loaded(tokens), tied(tokens))


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")
def test_torchscript_round_trips(mlp: MLP) -> None:
    scripted = torch.jit.script(mlp)
    stored = runners.pytorch.save_model("mlp_script", scripted)
    assert stored.info.artifact == "model.torchscript" and stored.info.options == {"format": "torchscript"}
    instance = runners.pytorch.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    assert np.array_equal(instance(X), reference(mlp, X))


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")
def test_a_module_its_class_alone_cannot_rebuild_is_stored_as_torchscript() -> None:
    torch.manual_seed(3)
    wide = MLP(4, 32, 3)  # MLP() has 16 hidden units, and no init_kwargs say otherwise
    stored = runners.pytorch.save_model("mlp_wide", wide)
    assert stored.info.options == {"format": "torchscript", "scripted_from": "MLP"}
    instance = runners.pytorch.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    assert np.array_equal(instance(X), reference(wide, X))

    class Local(torch.nn.Module):  # no import path another process could use
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    local = runners.pytorch.save_model("local", Local())
    assert local.info.options["format"] == "torchscript"
    assert runners.pytorch.load_model(local.tag)(torch.ones(1)).tolist() == [2.0]


def test_a_module_that_could_not_be_rebuilt_is_refused_at_save() -> None:
    with pytest.raises(ValueError, match="pass the init_kwargs"):  # said, and wrong: never second-guessed
        runners.pytorch.save_model("mlp_wide", MLP(4, 32, 3), init_kwargs={"hidden": 8})
    with pytest.raises(ValueError, match=r"init_kwargs.*torch.jit.script"):
        runners.pytorch.save_model("unscriptable", Unscriptable(3))
    assert runners.pytorch.save_model("unscriptable", Unscriptable(3), init_kwargs={"width": 3})
    with pytest.raises(TypeError, match="torch.nn.Module"):
        runners.pytorch.save_model("not_a_module", object())


def test_a_class_found_on_the_savers_path_is_found_again_by_its_file(tmp_path: Path) -> None:
    (tmp_path / "private_nets.py").write_text("from tests.runners.nets import MLP\n\nclass Private(MLP):\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import private_nets  # type: ignore[import-not-found]

        torch.manual_seed(2)
        model = private_nets.Private()
        stored = runners.pytorch.save_model("private", model)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("private_nets", None)
    assert stored.info.options["module"] == "private_nets:Private"
    assert stored.info.options["module_file"] == f"{tmp_path.resolve() / 'private_nets.py'}:Private"
    assert np.array_equal(reference(runners.pytorch.load_model(stored.tag), X), reference(model, X))


def test_a_tampered_or_pickled_artifact_is_refused_and_nothing_runs(tmp_path: Path, mlp: MLP) -> None:
    stored = runners.pytorch.save_model("mlp_tamper", mlp)
    flip_byte(stored)
    with pytest.raises(ModelCorrupted, match="checksum"):
        runners.pytorch.load_model(stored.tag)

    marker = tmp_path / "executed"
    replace_artifact(stored, pickle_payload(marker))  # what torch.save writes: a pickle
    with pytest.raises(ModelCorrupted, match="do not load"):
        runners.pytorch.load_model(stored.tag)
    assert not marker.exists()

    save_file({"hidden.weight": torch.zeros(16, 4)}, str(tmp_path / "partial.safetensors"))
    replace_artifact(stored, (tmp_path / "partial.safetensors").read_bytes())
    with pytest.raises(ModelCorrupted, match="do not load"):  # strict: every tensor, by name and shape
        runners.pytorch.load_model(stored.tag)


def test_the_recorded_class_must_be_a_module_outside_the_store(mlp: MLP) -> None:
    stored = runners.pytorch.save_model("mlp_class", mlp)
    edit_options(stored, module="os:system")
    with pytest.raises(UntrustedArtifact, match="not a torch.nn.Module"):
        runners.pytorch.load_model(stored.tag)

    planted = stored.path / "evil.py"
    planted.write_text("raise SystemExit('executed')\n")
    edit_options(stored, module=f"{planted}:Evil")
    with pytest.raises(UntrustedArtifact, match="lives in the model store"):
        runners.pytorch.load_model(stored.tag)
    edit_options(stored, module="no_such_module:Net", module_file="/no/such/file.py:Net")
    with pytest.raises(StoreError, match="cannot import"):
        runners.pytorch.load_model(stored.tag)


def test_no_cuda_device_is_a_clear_error(mlp: MLP) -> None:
    stored = runners.pytorch.save_model("mlp_gpu", mlp)
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(RuntimeError, match="no such CUDA device"):
        runners.pytorch.load_model(stored.tag, device="cuda:0")
    with pytest.raises(ValueError, match="device must be"):
        runners.pytorch.load_model(stored.tag, device="tpu")


def test_served_from_yaml_naming_only_the_tag(tmp_path: Path, mlp: MLP) -> None:
    runners.pytorch.save_model("mlp_served", mlp)
    expected = reference(mlp, X)
    ndarray = {"type": "ndarray"}
    with serve_model(tmp_path, "mlp_served:latest", "__call__", input=ndarray, output=ndarray, threads=1) as api:
        assert np.array_equal(np.asarray(post(api, X.tolist()), dtype=np.float32), expected)
        rows = list(range(1, 145, 3))
        answers = post_concurrently(f"{api}/predict", [[X[i].tolist()] for i in rows])
        got = np.asarray(answers, dtype=np.float32).reshape(len(rows), -1)
        # a row's float32 result may differ in the last bit with the batch it was computed in
        np.testing.assert_allclose(got, expected[rows], rtol=1e-5, atol=1e-6)
        assert (got.argmax(axis=1) == expected[rows].argmax(axis=1)).all()
        assert batches_run(api, "mlp_served", "__call__") < 1 + len(rows)


def test_an_api_worker_serving_a_pytorch_runner_never_imports_torch(tmp_path: Path, mlp: MLP) -> None:
    import subprocess

    import yaml

    from tests.runners.served import config

    runners.pytorch.save_model("mlp_api", mlp)
    path = tmp_path / "service.yaml"
    ndarray = {"type": "ndarray"}
    path.write_text(yaml.safe_dump(config("mlp_api:latest", "__call__", input=ndarray, output=ndarray)))
    code = (
        "import sys\n"
        "from app.config.schema import load_config\n"
        "from app.config.assemble import build_service\n"
        f"service = build_service(load_config({str(path)!r}))\n"
        "assert [r.name for r in service.runners] == ['mlp_api']\n"
        "assert 'torch' not in sys.modules and 'safetensors' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
