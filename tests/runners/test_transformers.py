"""runners.transformers: pipelines saved with safetensors and rebuilt by task, no remote code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import transformers

import runners
from runners.adapter import UntrustedArtifact
from runners.imports import import_target
from runners.store.model_store import ModelCorrupted, StoreError
from tests.runners.served import batches_run, post, post_concurrently, serve_model
from tests.runners.tamper import flip_byte, pickle_payload, replace_artifact

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "One sentence here. Another one there.",
    "Short news. More words follow.",
    "The river rose overnight after three days of rain. Residents moved their cars.",
]


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    """Loading a model sets torch's (process-wide) threads; the references here are computed on one:
    OpenMP's spinning threads crawl on a shared, oversubscribed machine."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def summarizer() -> Any:
    """The examples' tiny summarization pipeline, with fewer training steps and shorter summaries."""
    pipeline = import_target(f"{REPO / 'examples' / 'make_summarizer.py'}:tiny_pipeline")(steps=20)
    pipeline.model.generation_config.max_length = 12  # saved with it: the served pipeline stops there too
    return pipeline


def test_a_pipeline_round_trips_with_its_task(summarizer: Any) -> None:
    stored = runners.transformers.save_model("tiny_sum", summarizer)
    assert stored.info.artifact == "pipeline" and stored.is_directory
    assert stored.info.options["task"] == "summarization"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(stored.info.files)
    assert stored.info.signatures["__call__"].batchable
    loaded = runners.transformers.load_model(stored.tag, threads=1)
    assert isinstance(loaded, transformers.SummarizationPipeline)
    assert loaded(TEXTS) == summarizer(TEXTS)

    instance = runners.transformers.runnable_for(stored)(tag=str(stored.tag), threads=1)  # type: ignore[call-arg]
    import numpy as np

    assert instance(np.array(TEXTS[:2])) == summarizer(TEXTS[:2])  # a JSON list of strings, as it arrives
    assert instance(TEXTS[0]) == summarizer(TEXTS[0])


def test_a_tampered_directory_is_refused(summarizer: Any) -> None:
    stored = runners.transformers.save_model("sum_tamper", summarizer)
    flip_byte(stored, "model.safetensors")
    with pytest.raises(ModelCorrupted, match="model.safetensors"):
        runners.transformers.load_model(stored.tag)

    fresh = runners.transformers.save_model("sum_added", summarizer)
    (fresh.artifact_path / "extra.json").write_text("{}")
    with pytest.raises(ModelCorrupted, match="extra.json"):
        runners.transformers.load_model(fresh.tag)


@pytest.mark.parametrize(
    "planted", ["pytorch_model.bin", "modeling_evil.py", "training_args.pkl", "weights/model.pt"]
)
def test_pickles_and_code_are_refused_even_when_signed(tmp_path: Path, summarizer: Any, planted: str) -> None:
    stored = runners.transformers.save_model("sum_planted", summarizer)
    marker = tmp_path / "executed"
    replace_artifact(stored, pickle_payload(marker), relative=planted)
    with pytest.raises(UntrustedArtifact, match=planted):
        runners.transformers.load_model(stored.tag)
    assert not marker.exists()


def test_remote_code_is_refused(summarizer: Any) -> None:
    stored = runners.transformers.save_model("sum_remote", summarizer)
    config = json.loads((stored.artifact_path / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSeq2SeqLM": "modeling_evil.EvilModel"}
    replace_artifact(stored, json.dumps(config).encode(), relative="config.json")
    with pytest.raises(UntrustedArtifact, match="auto_map"):
        runners.transformers.load_model(stored.tag)


def test_import_a_model_directory(tmp_path: Path, summarizer: Any) -> None:
    summarizer.save_pretrained(str(tmp_path / "hf_sum"), safe_serialization=True)
    with pytest.raises(StoreError, match="task"):
        runners.models.import_model(tmp_path / "hf_sum")
    imported = runners.models.import_model(tmp_path / "hf_sum", task="summarization")
    assert imported.tag.name == "hf_sum" and imported.info.framework == "transformers"
    assert runners.transformers.load_model(imported)(TEXTS[1]) == summarizer(TEXTS[1])

    (tmp_path / "hf_sum" / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UntrustedArtifact, match="pytorch_model.bin"):
        runners.transformers.import_model("hf_bin", tmp_path / "hf_sum", task="summarization")


def test_only_pipelines_of_shipped_tasks(summarizer: Any) -> None:
    with pytest.raises(TypeError, match="Pipeline"):
        runners.transformers.save_model("model_only", summarizer.model)


def test_served_from_yaml_naming_only_the_tag(tmp_path: Path, summarizer: Any) -> None:
    runners.transformers.save_model("sum_served", summarizer)
    json_io = {"type": "json"}
    with serve_model(tmp_path, "sum_served:latest", "__call__", input=json_io, output=json_io, threads=1) as api:
        assert post(api, TEXTS) == summarizer(TEXTS)
        assert post(api, TEXTS[2]) == summarizer(TEXTS[2])
        texts = [f"{TEXTS[i % 3]} Item {i}." for i in range(48)]
        answers = post_concurrently(f"{api}/predict", [[text] for text in texts])
        assert answers == [summarizer([text]) for text in texts]
        assert batches_run(api, "sum_served", "__call__") < 2 + len(texts)
